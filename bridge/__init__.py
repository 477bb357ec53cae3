"""opscom-bridge: vendor webhooks and RabbitMQ messages in, OPS-COM permits out."""

__version__ = "0.1.0"
