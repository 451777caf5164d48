"""Images reach hosts without a registry: `docker save` once, only missing layers sent, `docker load`."""
