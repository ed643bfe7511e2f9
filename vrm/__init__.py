"""VRM: a customer-controlled relationship platform."""

from vrm.app import create_app

__all__ = ["create_app"]
