"""Recording the AWS API calls a process makes, in order, for the tests that replay an upstream
client's calls under moto (KServe's storage initializer, cert-manager's Route 53 solver)."""

from __future__ import annotations

import botocore.client


class RecordedCalls:
    """Every AWS API call made in this process, in order, with its parameters."""

    def __init__(self, monkeypatch):
        self.calls: list[tuple[str, dict]] = []
        original = botocore.client.BaseClient._make_api_call

        def recording(client, operation_name, params):
            self.calls.append((operation_name, dict(params)))
            return original(client, operation_name, params)

        monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
