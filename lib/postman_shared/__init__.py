"""What every Postman service needs once: settings, logging, database, broker, gRPC and metrics plumbing."""
