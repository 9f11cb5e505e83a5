"""Objects in an S3 bucket (AWS, MinIO, moto …) under a key prefix.

Large objects go up as a multipart upload, completed only after the caller has verified
the bytes (:meth:`_S3Staging.commit`): S3 shows no part of an object before
``CompleteMultipartUpload``, so an unverified or interrupted upload is never visible. When
the caller names the key up front (a client upload states its digest) the upload goes
straight to it; otherwise to a staging key, copied to its address once verified. Parts go
up on a few threads at once; memory stays bounded by their number and size.
"""

from __future__ import annotations

import builtins
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from modelyard.errors import ConfigError, NotFoundError, StorageError
from modelyard.store.blobs.objects import ObjectInfo
from modelyard.transfer.blobs import CHUNK_SIZE

#: the first part size; parts grow as an upload gets long (S3 allows 10,000 parts)
PART_SIZE = 8 * 1024 * 1024
#: parts in flight at once per upload (bounds memory: PARTS_IN_FLIGHT x part size)
PARTS_IN_FLIGHT = 4

T = TypeVar("T")


def _part_size(part_number: int) -> int:
    """8 MiB for the first 1,000 parts, then 16, 24 … MiB: 10,000 parts hold ~430 GiB."""
    return PART_SIZE * (1 + (part_number - 1) // 1000)


class S3Objects:
    """One bucket and prefix; safe for many processes and machines at once."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        client: Any = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.location = f"s3://{bucket}/{self.prefix}"
        self._s3 = client or boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            config=Config(retries={"max_attempts": 5, "mode": "standard"}, max_pool_connections=32),
        )
        self._check_bucket()

    def _check_bucket(self) -> None:
        """Fail at open, with what to fix, rather than on the first upload."""
        try:
            self._s3.head_bucket(Bucket=self.bucket)
        except NoCredentialsError:
            raise ConfigError(
                f"blobs_url: no AWS credentials for {self.location} (boto3 looks in "
                "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, ~/.aws, instance roles)",
                field="blobs_url",
            ) from None
        except ClientError as e:
            code = str(e.response.get("Error", {}).get("Code", ""))
            if code in {"404", "NoSuchBucket", "NotFound"}:
                raise ConfigError(
                    f"blobs_url: the bucket {self.bucket!r} does not exist; create it first",
                    field="blobs_url",
                ) from None
            if code in {"403", "AccessDenied", "Forbidden"}:
                raise ConfigError(
                    f"blobs_url: access to the bucket {self.bucket!r} is denied to these "
                    "credentials (modelyard needs s3:GetObject, PutObject, DeleteObject, "
                    "ListBucket and the multipart upload calls)",
                    field="blobs_url",
                ) from None
            raise StorageError(f"blob store {self.location}: cannot open the bucket: {e}") from e
        except BotoCoreError as e:
            raise StorageError(f"blob store {self.location}: cannot open the bucket: {e}") from e

    def _key(self, key: str) -> str:
        return self.prefix + key

    def _call(self, fn: Callable[[], T], *, what: str, key: str | None = None) -> T:
        try:
            return fn()
        except ClientError as e:
            code = str(e.response.get("Error", {}).get("Code", ""))
            if code in {"NoSuchKey", "404", "NotFound"} and key is not None:
                raise NotFoundError(f"{key} is not stored") from None
            raise StorageError(f"blob store {self.location}: cannot {what}: {e}") from e
        except BotoCoreError as e:
            raise StorageError(f"blob store {self.location}: cannot {what}: {e}") from e

    def stage(self, target: str | None = None) -> _S3Staging:
        return _S3Staging(self, target)

    def exists(self, key: str) -> bool:
        try:
            self.size(key)
        except NotFoundError:
            return False
        return True

    def size(self, key: str) -> int:
        head = self._call(
            lambda: self._s3.head_object(Bucket=self.bucket, Key=self._key(key)),
            what=f"stat {key}",
            key=key,
        )
        return int(head["ContentLength"])

    def read(
        self, key: str, start: int = 0, end: int | None = None, *, chunk_size: int = CHUNK_SIZE
    ) -> Iterator[bytes]:
        if end is not None and end <= start:
            return iter(())
        kwargs: dict[str, str] = {}
        if start or end is not None:
            kwargs["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        try:
            response = self._call(
                lambda: self._s3.get_object(Bucket=self.bucket, Key=self._key(key), **kwargs),
                what=f"read {key}",
                key=key,
            )
        except StorageError as e:
            if "InvalidRange" in str(e):
                return iter(())  # start at or past the end: nothing to read
            raise
        return _body_chunks(response["Body"], chunk_size)

    def get(self, key: str) -> bytes | None:
        try:
            return b"".join(self.read(key))
        except NotFoundError:
            return None

    def put(self, key: str, data: bytes) -> None:
        self._call(
            lambda: self._s3.put_object(Bucket=self.bucket, Key=self._key(key), Body=data),
            what=f"write {key}",
        )

    def delete(self, key: str) -> None:
        self._call(
            lambda: self._s3.delete_object(Bucket=self.bucket, Key=self._key(key)),
            what=f"delete {key}",
        )

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        paginator = self._s3.get_paginator("list_objects_v2")
        pages = paginator.paginate(Bucket=self.bucket, Prefix=self._key(prefix))
        try:
            for page in pages:
                for item in page.get("Contents", []):
                    key = item["Key"][len(self.prefix) :]
                    yield ObjectInfo(key=key, size=int(item["Size"]), modified=item["LastModified"])
        except (ClientError, BotoCoreError) as e:
            raise StorageError(f"blob store {self.location}: cannot list {prefix}: {e}") from e

    def abandoned_uploads(self, older_than: datetime) -> builtins.list[tuple[str, str]]:
        """Multipart uploads started before ``older_than`` and never completed: (key, id)."""
        found = []
        paginator = self._s3.get_paginator("list_multipart_uploads")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
                for upload in page.get("Uploads", []):
                    if upload["Initiated"] < older_than:
                        found.append((upload["Key"], upload["UploadId"]))
        except (ClientError, BotoCoreError) as e:
            raise StorageError(f"blob store {self.location}: cannot list uploads: {e}") from e
        return found

    def abort_upload(self, full_key: str, upload_id: str) -> None:
        self._call(
            lambda: self._s3.abort_multipart_upload(
                Bucket=self.bucket, Key=full_key, UploadId=upload_id
            ),
            what="abort an abandoned upload",
        )


class _S3Staging:
    """Bytes on their way into S3. Up to one part they stay in memory and go up in one
    request at commit; beyond that they become a multipart upload, to the final key when
    the caller named it up front (``target``) and to a staging key otherwise (then copied
    to its address at commit and removed)."""

    def __init__(self, objects: S3Objects, target: str | None) -> None:
        self._o = objects
        self._target = target
        self._buffer = bytearray()
        self._parts: list[Future[dict[str, Any]]] = []
        self._upload_id: str | None = None
        self._upload_key = ""
        self._pool: ThreadPoolExecutor | None = None
        self._slots = threading.Semaphore(PARTS_IN_FLIGHT)
        self._done = False

    def write(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) >= _part_size(len(self._parts) + 1):
            size = _part_size(len(self._parts) + 1)
            part, self._buffer = bytes(self._buffer[:size]), self._buffer[size:]
            self._send(part)

    def _send(self, part: bytes) -> None:
        o = self._o
        if self._upload_id is None:
            self._upload_key = o._key(self._target or f"staging/{uuid.uuid4().hex}")
            created = o._call(
                lambda: o._s3.create_multipart_upload(Bucket=o.bucket, Key=self._upload_key),
                what="start an upload",
            )
            self._upload_id = str(created["UploadId"])
            self._pool = ThreadPoolExecutor(PARTS_IN_FLIGHT, thread_name_prefix="modelyard-s3")
        assert self._pool is not None
        number = len(self._parts) + 1
        self._slots.acquire()
        future = self._pool.submit(self._upload_part, number, part)
        future.add_done_callback(lambda _f: self._slots.release())
        self._parts.append(future)

    def _upload_part(self, number: int, data: bytes) -> dict[str, Any]:
        o = self._o
        response = o._call(
            lambda: o._s3.upload_part(
                Bucket=o.bucket,
                Key=self._upload_key,
                UploadId=self._upload_id,
                PartNumber=number,
                Body=data,
            ),
            what=f"upload part {number}",
        )
        return {"PartNumber": number, "ETag": response["ETag"]}

    def commit(self, key: str) -> bool:
        o = self._o
        if o.exists(key):
            self.abort()
            return False  # already stored: deduplicated
        if self._upload_id is None:  # small: one request, visible atomically
            o.put(key, bytes(self._buffer))
            self._done = True
            return True
        if self._buffer:
            self._send(bytes(self._buffer))
            self._buffer = bytearray()
        parts = [f.result() for f in self._parts]
        o._call(
            lambda: o._s3.complete_multipart_upload(
                Bucket=o.bucket,
                Key=self._upload_key,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": parts},
            ),
            what="complete an upload",
        )
        self._close_pool()
        self._done = True
        final = o._key(key)
        if self._upload_key == final:
            return True
        # the verified object sits under a staging key: copy it to its address
        source = {"Bucket": o.bucket, "Key": self._upload_key}
        try:
            o._s3.copy(source, o.bucket, final)
        except (ClientError, BotoCoreError) as e:
            raise StorageError(f"blob store {o.location}: cannot commit {key}: {e}") from e
        finally:
            o._call(
                lambda: o._s3.delete_object(Bucket=o.bucket, Key=self._upload_key),
                what="remove a staging object",
            )
        return True

    def abort(self) -> None:
        if self._done:
            return
        self._done = True
        o = self._o
        for future in self._parts:
            future.cancel()
        self._close_pool()
        if self._upload_id is not None:
            o._call(
                lambda: o._s3.abort_multipart_upload(
                    Bucket=o.bucket, Key=self._upload_key, UploadId=self._upload_id
                ),
                what="abort an upload",
            )

    def _close_pool(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


def _body_chunks(body: Any, chunk_size: int) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(chunk_size)
    finally:
        body.close()
