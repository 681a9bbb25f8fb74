"""The REST gateway: Importly's import API translated into gRPC calls to Ferry's services."""
