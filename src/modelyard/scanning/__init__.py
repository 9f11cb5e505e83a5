"""Pure parsers of model formats for unsafe-model scanning (pickle, PyTorch, joblib, ...)."""
