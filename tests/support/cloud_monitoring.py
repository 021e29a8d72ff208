"""Cloud Monitoring's `CreateTimeSeries` at its gRPC wire protocol: nothing can run Cloud Monitoring
here, so this records what the real client library sends, and answers as the service does."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from typing import Any

import grpc
from google.cloud import monitoring_v3
from google.cloud.monitoring_v3.services.metric_service.transports import MetricServiceGrpcTransport
from google.protobuf import empty_pb2

SERVICE = "google.monitoring.v3.MetricService"
MAX_SERIES = 200


@contextmanager
def cloud_monitoring() -> Iterator[tuple[monitoring_v3.MetricServiceClient, list[Any]]]:
    """A client of the real library on a local server, and the requests that server received."""
    received: list[Any] = []

    def create_time_series(request: Any, context: grpc.ServicerContext) -> empty_pb2.Empty:
        if len(request.time_series) > MAX_SERIES:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"at most {MAX_SERIES} time series per request")
        received.append(request)
        return empty_pb2.Empty()

    handler = grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "CreateTimeSeries": grpc.unary_unary_rpc_method_handler(
                create_time_series,
                request_deserializer=monitoring_v3.CreateTimeSeriesRequest.deserialize,
                response_serializer=empty_pb2.Empty.SerializeToString,
            )
        },
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield monitoring_v3.MetricServiceClient(transport=MetricServiceGrpcTransport(channel=channel)), received
    finally:
        channel.close()
        server.stop(None)
