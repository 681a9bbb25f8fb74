"""Check that the manifests' probes, metrics ports and grace periods match what the code does."""

from __future__ import annotations

import pytest

from services.gateway import health
from services.shared import readiness
from tests.deploy.test_manifests import (
    GRPC_SERVICES,
    OVERLAYS,
    SERVICES,
    _container_port,
    _effective_env,
    _ferry_config,
    _ferry_container,
    _ferry_pod,
    _named,
    _setting_default,
    _settings_class,
    rendered,  # noqa: F401 (the fixture, used by name)
)


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("service", GRPC_SERVICES)
def test_grpc_liveness_probe_names_liveness_service(rendered, overlay, service):  # noqa: F811
    container = _ferry_container(rendered[overlay], service)

    assert container["livenessProbe"]["grpc"]["service"] == readiness.LIVENESS_SERVICE


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("service", GRPC_SERVICES)
@pytest.mark.parametrize("probe", ["startupProbe", "readinessProbe"])
def test_grpc_readiness_probe_checks_overall_health(rendered, overlay, service, probe):  # noqa: F811
    container = _ferry_container(rendered[overlay], service)

    assert container[probe]["grpc"].get("service", "") == ""


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_gateway_readiness_timeout_exceeds_peer_checks(rendered, overlay):  # noqa: F811
    container = _ferry_container(rendered[overlay], "gateway")

    timeout = container["readinessProbe"].get("timeoutSeconds", 1)

    assert timeout > health.PEER_CHECK_TIMEOUT_SECONDS


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("service", SERVICES)
def test_metrics_container_port_matches_env(rendered, overlay, service):  # noqa: F811
    container = _ferry_container(rendered[overlay], service)

    env = _effective_env(rendered[overlay], container)

    assert env["FERRY_METRICS_HOST"] == "0.0.0.0"
    assert int(env["FERRY_METRICS_PORT"]) == _container_port(container, "metrics")


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("service", SERVICES)
def test_shutdown_grace_fits_termination_grace(rendered, overlay, service):  # noqa: F811
    pod = _ferry_pod(rendered[overlay], service)
    container = _ferry_container(rendered[overlay], service)
    value = _effective_env(rendered[overlay], container).get("FERRY_SHUTDOWN_GRACE_SECONDS")

    grace = float(value) if value else _setting_default(
        _settings_class(service), "FERRY_SHUTDOWN_GRACE_SECONDS"
    )
    pre_stop = container.get("lifecycle", {}).get("preStop", {}).get("sleep", {})

    # The pre-stop pause and Ferry's own grace both come out of the pod's grace period.
    assert pre_stop.get("seconds", 0) + grace < pod["terminationGracePeriodSeconds"]


def test_prod_nats_replicas_match_cluster_size(rendered):  # noqa: F811
    nats = _named(rendered["prod"], "StatefulSet", "ferry-nats")

    replicas = int(_ferry_config(rendered["prod"])["FERRY_NATS_REPLICAS"])

    assert replicas == nats["spec"]["replicas"]


def test_dev_nats_replicas_is_one(rendered):  # noqa: F811
    assert _ferry_config(rendered["dev"])["FERRY_NATS_REPLICAS"] == "1"
