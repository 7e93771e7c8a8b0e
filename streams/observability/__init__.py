"""What the platform's processes tell their operators: Prometheus metrics (`metrics`), served on a loopback port
and announced to the local Prometheus (`exporter`), and the consumer-lag sampler (`lag`)."""
