"""The core: configuration, the request workflow, storage, backend adapters, delivery."""
