"""The config file: defaults < file < MODELYARD_* < arguments, origins kept, bad files named."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelyard import ConfigError, Registry
from modelyard.config import CONFIG_ENV, Settings, load_settings, redacted


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_the_file_in_home_is_read_and_each_layer_beats_the_one_below(tmp_path: Path) -> None:
    home = tmp_path / "home"
    file = write(
        home / "modelyard.toml",
        'actor = "from-file"\nport = 9001\nsagemaker_region = "eu-west-1"\n'
        "embedded_worker = false\n",
    )
    env = {"MODELYARD_HOME": str(home), "MODELYARD_PORT": "9002"}
    loaded = load_settings(env, overrides={"sagemaker_region": "ap-south-1"})
    settings = loaded.settings
    assert (settings.actor, settings.port, settings.sagemaker_region) == (
        "from-file",
        9002,
        "ap-south-1",
    )
    assert settings.embedded_worker is False
    assert loaded.config_file == file
    assert loaded.origins["actor"] == str(file)
    assert loaded.origins["embedded_worker"] == str(file)
    assert loaded.origins["port"] == "MODELYARD_PORT"
    assert loaded.origins["sagemaker_region"] == "argument"
    assert loaded.origins["workers"] == "default"
    assert loaded.origins["home"] == "MODELYARD_HOME"


def test_home_from_an_argument_finds_the_file_there(tmp_path: Path) -> None:
    write(tmp_path / "elsewhere" / "modelyard.toml", "run_threads = 7\n")
    loaded = load_settings({}, overrides={"home": tmp_path / "elsewhere"})
    assert loaded.settings.run_threads == 7
    assert load_settings({}, overrides={"home": tmp_path / "none"}).config_file is None


def test_a_named_file_beats_the_one_in_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    write(home / "modelyard.toml", "run_threads = 3\n")
    named = write(tmp_path / "etc" / "team.toml", f'run_threads = 5\nhome = "{home}"\n')
    flag = write(tmp_path / "flag.toml", "run_threads = 6\n")
    env = {CONFIG_ENV: str(named)}
    assert load_settings(env).settings.run_threads == 5
    assert load_settings(env).settings.home == home  # a named file may set home
    assert load_settings(env, config_file=flag).settings.run_threads == 6
    assert load_settings(env, config_file=flag).config_file == flag


def test_relative_paths_in_a_file_are_relative_to_the_file(tmp_path: Path) -> None:
    file = write(
        tmp_path / "etc" / "modelyard.toml",
        'home = "store"\nkey_file = "keys/blob-keys.json"\ncache_dir = "/abs/cache"\n',
    )
    settings = load_settings({}, config_file=file).settings
    assert settings.home == tmp_path / "etc" / "store"
    assert settings.key_file == tmp_path / "etc" / "keys" / "blob-keys.json"
    assert settings.cache_dir == Path("/abs/cache")


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        ("prot = 1\n", "prot", "prot: not a setting (did you mean 'port'?)"),
        ("db-url = 'x'\n", "db-url", "db-url: not a setting (did you mean 'db_url'?)"),
        ("[server]\nport = 1\n", "server", "server: not a setting"),
        ('port = "8080"\n', "port", "port: expected a positive whole number, got string '8080'"),
        ("port = 0\n", "port", "port: expected a positive whole number, got integer 0"),
        ("workers = true\n", "workers", "expected a positive whole number, got boolean True"),
        ('embedded_worker = "no"\n', "embedded_worker", "expected true or false, got string"),
        ("actor = 3\n", "actor", "actor: expected a string, got integer 3"),
        ('key_file = ""\n', "key_file", "key_file: expected a path (a non-empty string)"),
        ("port = \n", "config", "not valid TOML"),
        ('url = "localhost:8080"\n', "url", "url: 'localhost:8080' is not a server URL"),
    ],
)
def test_a_bad_file_is_a_config_error_naming_the_file_and_key(
    tmp_path: Path, text: str, field: str, message: str
) -> None:
    file = write(tmp_path / "modelyard.toml", text)
    with pytest.raises(ConfigError) as info:
        load_settings({}, config_file=file)
    assert str(info.value).startswith(f"{file}: "), info.value
    assert message in str(info.value)
    assert info.value.field == field


def test_a_named_file_must_exist_but_the_one_in_home_need_not(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config: '.*missing.toml' does not exist"):
        load_settings({CONFIG_ENV: str(tmp_path / "missing.toml")})
    assert load_settings({"MODELYARD_HOME": str(tmp_path)}).config_file is None


def test_a_file_found_in_home_cannot_move_home(tmp_path: Path) -> None:
    write(tmp_path / "modelyard.toml", 'home = "/elsewhere"\n')
    with pytest.raises(ConfigError, match="a file found in HOME cannot move HOME") as info:
        load_settings({"MODELYARD_HOME": str(tmp_path)})
    assert info.value.field == "home"


def test_every_setting_can_be_set_in_a_file(tmp_path: Path) -> None:
    """One value of the right type per field: the file covers every setting."""
    samples = {"path": '"p"', "int": "3", "bool": "false", "str": '"s"'}
    kinds = {
        name: "path" if "Path" in str(f.type) else str(f.type).split(" | ")[0]
        for name, f in Settings.__dataclass_fields__.items()
    }
    text = "".join(
        f"{name} = {samples[kind]}\n" for name, kind in kinds.items() if name not in {"url"}
    )
    file = write(tmp_path / "all.toml", text + 'url = "http://h:1/api/v1"\n')
    loaded = load_settings({}, config_file=file)
    assert {n for n, o in loaded.origins.items() if o != str(file)} == set()
    assert loaded.settings.url == "http://h:1"
    assert loaded.settings.port == 3
    assert loaded.settings.blob_encryption is False


def test_registry_open_reads_the_file_in_its_home(tmp_path: Path) -> None:
    write(tmp_path / "modelyard.toml", 'actor = "robot"\n')
    with Registry.open(tmp_path) as registry:
        assert registry.whoami()["principal"] == "robot"


def test_secrets_and_passwords_are_redacted() -> None:
    assert redacted("token", "my_secret") == "***"
    assert redacted("db_url", "postgresql+psycopg://u:pw@h/db") == "postgresql+psycopg://u:***@h/db"
    assert redacted("db_url", "postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    assert redacted("token", None) is None
