"""faust's Kafka transport with one change: how long a fetch may wait for data.

faust hard-codes `fetch_max_wait_ms=1500` for its worker consumer. A declaration passes through three or four
consume steps (intake, directory, auditor), so on a lightly loaded partition every step could add up to
1.5 s of waiting; the setting `consumer_fetch_max_wait_ms` bounds it instead.
"""

from __future__ import annotations

from typing import Any

import aiokafka
from faust.transport.drivers import aiokafka as driver


def transport_class(fetch_max_wait_ms: int) -> type[driver.Transport]:
    class ConsumerThread(driver.AIOKafkaConsumerThread):
        def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
            consumer = super()._create_worker_consumer(transport)
            # read by the consumer when it starts its fetcher; faust offers no setting for it
            consumer._fetch_max_wait_ms = fetch_max_wait_ms
            return consumer

    class Consumer(driver.Consumer):
        def _new_consumer_thread(self) -> driver.AIOKafkaConsumerThread:
            return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    class Transport(driver.Transport):
        pass

    Transport.Consumer = Consumer
    return Transport
