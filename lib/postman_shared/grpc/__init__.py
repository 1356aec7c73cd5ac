"""gRPC plumbing: server bootstrap with the standard health service, clients, and error mapping."""
