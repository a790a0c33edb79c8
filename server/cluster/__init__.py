"""Local clusters of real, existing engines (NATS JetStream, …) started as processes on 127.0.0.1."""
