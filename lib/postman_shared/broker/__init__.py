"""RabbitMQ plumbing: the topology, a publisher with batched asynchronous confirms, and a batch consumer."""

from postman_shared.broker.consumer import BatchConsumer, Delivery
from postman_shared.broker.publisher import OutgoingMessage, Publisher, PublishError
from postman_shared.broker.topology import declare_topology

__all__ = ["BatchConsumer", "Delivery", "OutgoingMessage", "Publisher", "PublishError", "declare_topology"]
