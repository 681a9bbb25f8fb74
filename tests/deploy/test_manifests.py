"""Render the kustomize overlays and check them against the schemas and Ferry's settings."""

from __future__ import annotations

import copy
import dataclasses
import importlib
import ipaddress
from collections.abc import Iterator
from typing import Any

import pytest

from services.shared import config
from tools import k8s_check

OVERLAYS = ("dev", "prod")
SERVICES = ("gateway", "importer", "ledger", "notifier")
GRPC_SERVICES = ("importer", "ledger", "notifier")

# The setting of each service's listening port, and the name of its container port.
LISTEN_PORTS = {
    "gateway": ("FERRY_GATEWAY_PORT", "http"),
    "importer": ("FERRY_IMPORTER_GRPC_PORT", "grpc"),
    "ledger": ("FERRY_LEDGER_GRPC_PORT", "grpc"),
    "notifier": ("FERRY_NOTIFIER_GRPC_PORT", "grpc"),
}
PEER_ADDRESSES = ("FERRY_IMPORTER_ADDR", "FERRY_LEDGER_ADDR", "FERRY_NOTIFIER_ADDR")

# Secrets that the platform team creates, so the overlay references them without defining them.
EXTERNAL_SECRETS = {"dev": set(), "prod": {"ferry-external"}}
EXTERNAL_SECRET_KEYS = {"FERRY_S3_ACCESS_KEY", "FERRY_S3_SECRET_KEY", "FERRY_DATABASE_URL"}

EXCEPTED_IPV4 = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16")
EXCEPTED_IPV6 = ("fc00::/7", "fe80::/10")

Manifest = dict[str, Any]


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[Manifest]]:
    return {overlay: k8s_check.render(overlay) for overlay in OVERLAYS}


# Helpers that find objects, containers and settings in rendered output.


def _objects(objects: list[Manifest], kind: str) -> list[Manifest]:
    return [item for item in objects if item["kind"] == kind]


def _named(objects: list[Manifest], kind: str, name: str) -> Manifest:
    matches = [item for item in _objects(objects, kind) if item["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} named {name}, found {len(matches)}"
    return matches[0]


def _pod_templates(objects: list[Manifest]) -> Iterator[tuple[Manifest, Manifest]]:
    """Yield (object, pod template) for every Deployment, StatefulSet and Job."""
    for item in objects:
        if item["kind"] in ("Deployment", "StatefulSet", "Job"):
            yield item, item["spec"]["template"]


def _ferry_pod(objects: list[Manifest], component: str) -> Manifest:
    """Return the pod spec of the Ferry workload labelled with `component`."""
    specs = [
        template["spec"]
        for _, template in _pod_templates(objects)
        if template["metadata"]["labels"].get("app.kubernetes.io/name") == "ferry"
        and template["metadata"]["labels"].get("app.kubernetes.io/component") == component
    ]
    assert len(specs) == 1, f"expected one Ferry pod template for {component}, found {len(specs)}"
    return specs[0]


def _ferry_container(objects: list[Manifest], component: str) -> Manifest:
    containers = _ferry_pod(objects, component)["containers"]
    assert len(containers) == 1, f"expected one container in the {component} pod"
    return containers[0]


def _config_maps(objects: list[Manifest]) -> dict[str, dict[str, str]]:
    config_maps = _objects(objects, "ConfigMap")
    return {item["metadata"]["name"]: item.get("data", {}) for item in config_maps}


def _ferry_config(objects: list[Manifest]) -> dict[str, str]:
    # The generator appends a content hash to the name.
    config_maps = _config_maps(objects).items()
    (data,) = [data for name, data in config_maps if name.startswith("ferry-config")]
    return data


def _effective_env(objects: list[Manifest], container: Manifest) -> dict[str, str | None]:
    """Return the container's variables. Those read from a Secret map to None."""
    config_maps = _config_maps(objects)
    env: dict[str, str | None] = {}
    for source in container.get("envFrom", []):
        env.update(config_maps[source["configMapRef"]["name"]])
    for variable in container.get("env", []):
        env[variable["name"]] = variable.get("value")
    return env


def _container_port(container: Manifest, name: str) -> int:
    (port,) = [port["containerPort"] for port in container["ports"] if port["name"] == name]
    return port


def _import_settings(service: str) -> type | str:
    """Import services.<service>.config.<Service>Settings, or return why the import failed."""
    class_name = f"{service.capitalize()}Settings"
    try:
        return getattr(importlib.import_module(f"services.{service}.config"), class_name)
    except (ImportError, AttributeError) as exc:
        return f"services.{service}.config.{class_name} is not importable yet: {exc}"


def _settings_class(service: str) -> type:
    """Import the service's settings class, or skip the test while it is missing."""
    settings = _import_settings(service)
    if isinstance(settings, str):
        pytest.skip(settings)
    return settings


def _declared_names(cls: type) -> set[str]:
    return {doc.env for doc in config.describe(cls)}


def _setting_default(cls: type, env: str) -> Any:
    (default,) = [doc.default for doc in config.describe(cls) if doc.env == env]
    return default


def _shared_group_names() -> set[str]:
    """Return the variables of every settings group in services.shared.config."""
    names: set[str] = set()
    for value in vars(config).values():
        is_group = isinstance(value, type) and dataclasses.is_dataclass(value)
        if is_group and value.__module__ == config.__name__:
            names |= _declared_names(value)
    return names


def _used_names(objects: list[Manifest]) -> set[str]:
    """Return every FERRY_* name that the overlay sets in a ConfigMap, Secret or container."""
    names = set(_ferry_config(objects))
    for item in _objects(objects, "Secret"):
        names |= set(item.get("data", {}))
    for _, template in _pod_templates(objects):
        for container in template["spec"]["containers"]:
            names |= {variable["name"] for variable in container.get("env", [])}
    return {name for name in names if name.startswith("FERRY_")}


def _internet_blocks(objects: list[Manifest]) -> list[Manifest]:
    """Return the egress ipBlocks that open all IPv4 or all IPv6 addresses."""
    blocks = []
    for policy in _objects(objects, "NetworkPolicy"):
        for rule in policy["spec"].get("egress", []):
            for peer in rule.get("to", []):
                if peer.get("ipBlock", {}).get("cidr") in ("0.0.0.0/0", "::/0"):
                    blocks.append(peer["ipBlock"])
    return blocks


# Schemas.


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_matches_schemas(rendered, overlay):
    assert k8s_check.schema_errors(rendered[overlay]) == []


def test_schema_check_rejects_unknown_field(rendered):
    deployment = copy.deepcopy(_named(rendered["prod"], "Deployment", "ferry-ledger"))
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["grcp"] = {}

    errors = k8s_check.schema_errors([deployment])

    assert len(errors) == 1
    assert "grcp" in errors[0]


def test_schema_check_rejects_wrong_type(rendered):
    deployment = copy.deepcopy(_named(rendered["prod"], "Deployment", "ferry-ledger"))
    deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "grpc"

    assert len(k8s_check.schema_errors([deployment])) == 1


# Settings.


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_env_names_are_declared(rendered, overlay):
    declared = _shared_group_names()
    missing = []
    for service in SERVICES:
        settings = _import_settings(service)
        if isinstance(settings, str):
            missing.append(settings)
        else:
            declared |= _declared_names(settings)

    unknown = sorted(_used_names(rendered[overlay]) - declared)

    if unknown and missing:
        pytest.skip(f"{unknown} not declared by the importable settings; {'; '.join(missing)}")
    assert unknown == []


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("service", SERVICES)
def test_service_env_names_are_declared(rendered, overlay, service):
    declared = _declared_names(_settings_class(service))
    container = _ferry_container(rendered[overlay], service)

    names = {variable["name"] for variable in container.get("env", [])}

    assert sorted(names - declared) == []


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("service", SERVICES)
def test_service_listens_on_all_interfaces(rendered, overlay, service):
    container = _ferry_container(rendered[overlay], service)

    env = _effective_env(rendered[overlay], container)

    assert env[f"FERRY_{service.upper()}_HOST"] == "0.0.0.0"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_refuses_private_urls(rendered, overlay):
    assert _ferry_config(rendered[overlay])["FERRY_ALLOW_PRIVATE_URLS"] == "0"


def test_log_format_is_json(rendered):
    assert _ferry_config(rendered["prod"])["FERRY_LOG_FORMAT"] == "json"


# Ports and probes.


def _listen_port(objects: list[Manifest], service: str) -> int:
    """Return the port the service listens on: the manifest's value, else the default."""
    setting, _ = LISTEN_PORTS[service]
    value = _effective_env(objects, _ferry_container(objects, service)).get(setting)
    if value is not None:
        return int(value)
    return _setting_default(_settings_class(service), setting)


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("service", SERVICES)
def test_container_port_matches_setting(rendered, overlay, service):
    _, port_name = LISTEN_PORTS[service]
    container = _ferry_container(rendered[overlay], service)

    assert _container_port(container, port_name) == _listen_port(rendered[overlay], service)


@pytest.mark.parametrize("service", SERVICES)
def test_manifest_port_matches_setting_default(rendered, service):
    setting, _ = LISTEN_PORTS[service]
    default = _setting_default(_settings_class(service), setting)

    assert _listen_port(rendered["prod"], service) == default


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("service", GRPC_SERVICES)
@pytest.mark.parametrize("probe", ["startupProbe", "livenessProbe", "readinessProbe"])
def test_grpc_service_probe_uses_grpc(rendered, overlay, service, probe):
    container = _ferry_container(rendered[overlay], service)

    assert container[probe]["grpc"]["port"] == _listen_port(rendered[overlay], service)


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize(
    ("probe", "path"),
    [("startupProbe", "/healthz"), ("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")],
)
def test_gateway_probe_uses_health_path(rendered, overlay, probe, path):
    container = _ferry_container(rendered[overlay], "gateway")
    http_get = container[probe]["httpGet"]

    port = _container_port(container, http_get["port"])

    assert http_get["path"] == path
    assert port == _listen_port(rendered[overlay], "gateway")


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("service", SERVICES)
def test_metrics_port_matches_scrape_annotation(rendered, overlay, service):
    (template,) = [
        template
        for item, template in _pod_templates(rendered[overlay])
        if item["metadata"]["name"] == f"ferry-{service}"
    ]
    container = _ferry_container(rendered[overlay], service)

    annotations = template["metadata"]["annotations"]

    assert annotations["prometheus.io/scrape"] == "true"
    assert int(annotations["prometheus.io/port"]) == _container_port(container, "metrics")


@pytest.mark.parametrize("service", SERVICES)
def test_metrics_port_matches_setting_default(rendered, service):
    cls = _settings_class(service)
    if "FERRY_METRICS_PORT" not in _declared_names(cls):
        pytest.skip(f"{cls.__name__} does not declare FERRY_METRICS_PORT yet")
    container = _ferry_container(rendered["prod"], service)

    default = _setting_default(cls, "FERRY_METRICS_PORT")

    assert _container_port(container, "metrics") == default


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("address_setting", PEER_ADDRESSES)
def test_peer_address_names_a_service_port(rendered, overlay, address_setting):
    host, port = _ferry_config(rendered[overlay])[address_setting].rsplit(":", 1)

    service = _named(rendered[overlay], "Service", host)

    assert int(port) in [entry["port"] for entry in service["spec"]["ports"]]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_service_target_ports_exist(rendered, overlay):
    missing = []
    for service in _objects(rendered[overlay], "Service"):
        selector = service["spec"]["selector"]
        containers = [
            container
            for _, template in _pod_templates(rendered[overlay])
            if selector.items() <= template["metadata"]["labels"].items()
            for container in template["spec"]["containers"]
        ]
        ports = {port.get("name") for container in containers for port in container["ports"]}
        ports |= {port["containerPort"] for container in containers for port in container["ports"]}
        for entry in service["spec"]["ports"]:
            if entry["targetPort"] not in ports:
                missing.append(f"{service['metadata']['name']}:{entry['targetPort']}")

    assert missing == []


# Install order: docs/deploy.md applies everything but the four services first, so that the
# Jobs run before the services start.


def _in_setup_phase(item: Manifest) -> bool:
    labels = item["metadata"].get("labels", {})
    return labels.get("app.kubernetes.io/component") not in SERVICES


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_setup_phase_includes_jobs_and_nats(rendered, overlay):
    phase = [item for item in rendered[overlay] if _in_setup_phase(item)]

    names = {(item["kind"], item["metadata"]["name"]) for item in phase}

    assert ("Job", "ferry-db-upgrade") in names
    assert ("Job", "ferry-streams-ensure") in names
    assert ("Service", "ferry-nats") in names
    assert any(kind == "ConfigMap" and name.startswith("ferry-config") for kind, name in names)


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("service", SERVICES)
def test_setup_phase_leaves_out_service(rendered, overlay, service):
    deployment = _named(rendered[overlay], "Deployment", f"ferry-{service}")

    assert not _in_setup_phase(deployment)


# Pods.


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_ferry_pods_are_hardened(rendered, overlay):
    problems = []
    for item, template in _pod_templates(rendered[overlay]):
        if template["metadata"]["labels"].get("app.kubernetes.io/name") != "ferry":
            continue
        name = item["metadata"]["name"]
        if template["spec"]["securityContext"].get("runAsNonRoot") is not True:
            problems.append(f"{name}: runAsNonRoot is not true")
        for container in template["spec"]["containers"]:
            security = container["securityContext"]
            if security.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{name}: readOnlyRootFilesystem is not true")
            if security.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{name}: allowPrivilegeEscalation is not false")
            if security.get("capabilities", {}).get("drop") != ["ALL"]:
                problems.append(f"{name}: capabilities.drop is not [ALL]")
            if "/tmp" not in [mount["mountPath"] for mount in container["volumeMounts"]]:
                problems.append(f"{name}: /tmp has no volume")

    assert problems == []


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize(
    ("service", "setting"),
    [("importer", "FERRY_IMPORTER_TMP_DIR"), ("importer", "FERRY_DATA_DIR"),
     ("ledger", "FERRY_DATA_DIR")],
)
def test_writable_directory_is_an_empty_dir(rendered, overlay, service, setting):
    pod = _ferry_pod(rendered[overlay], service)
    container = _ferry_container(rendered[overlay], service)
    path = _effective_env(rendered[overlay], container)[setting]

    (mount,) = [mount for mount in container["volumeMounts"] if mount["mountPath"] == path]
    (volume,) = [volume for volume in pod["volumes"] if volume["name"] == mount["name"]]

    assert "emptyDir" in volume


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("service", ["gateway", "ledger", "notifier"])
def test_importer_grace_period_is_longer(rendered, overlay, service):
    importer = _ferry_pod(rendered[overlay], "importer")

    other = _ferry_pod(rendered[overlay], service)

    assert importer["terminationGracePeriodSeconds"] > other["terminationGracePeriodSeconds"]


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize(
    ("component", "args"),
    [("gateway", ["serve", "gateway"]), ("importer", ["serve", "importer"]),
     ("ledger", ["serve", "ledger"]), ("notifier", ["serve", "notifier"]),
     ("db-upgrade", ["db", "upgrade"]), ("streams-ensure", ["streams", "ensure"])],
)
def test_ferry_container_runs_command(rendered, overlay, component, args):
    assert _ferry_container(rendered[overlay], component)["args"] == args


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_references_defined_config(rendered, overlay):
    objects = rendered[overlay]
    config_maps = set(_config_maps(objects))
    secrets = {item["metadata"]["name"] for item in _objects(objects, "Secret")}
    secrets |= EXTERNAL_SECRETS[overlay]
    missing = []
    for item, template in _pod_templates(objects):
        name = item["metadata"]["name"]
        for container in template["spec"]["containers"]:
            for source in container.get("envFrom", []):
                if source["configMapRef"]["name"] not in config_maps:
                    missing.append(f"{name}: ConfigMap {source['configMapRef']['name']}")
            for variable in container.get("env", []):
                secret = variable.get("valueFrom", {}).get("secretKeyRef", {}).get("name")
                if secret is not None and secret not in secrets:
                    missing.append(f"{name}: Secret {secret}")
        for volume in template["spec"].get("volumes", []):
            if "configMap" in volume and volume["configMap"]["name"] not in config_maps:
                missing.append(f"{name}: ConfigMap {volume['configMap']['name']}")

    assert missing == []


def test_prod_external_secret_has_expected_keys(rendered):
    keys = set()
    for _, template in _pod_templates(rendered["prod"]):
        for container in template["spec"]["containers"]:
            for variable in container.get("env", []):
                reference = variable.get("valueFrom", {}).get("secretKeyRef", {})
                if reference.get("name") == "ferry-external":
                    keys.add(reference["key"])

    assert keys == EXTERNAL_SECRET_KEYS


# Production topology.


def test_prod_network_policy_denies_by_default(rendered):
    policy = _named(rendered["prod"], "NetworkPolicy", "ferry-default-deny")

    assert policy["spec"]["podSelector"] == {}
    assert sorted(policy["spec"]["policyTypes"]) == ["Egress", "Ingress"]
    assert "ingress" not in policy["spec"]
    assert "egress" not in policy["spec"]


def test_prod_internet_egress_is_for_importer_and_notifier(rendered):
    names = set()
    for policy in _objects(rendered["prod"], "NetworkPolicy"):
        for rule in policy["spec"].get("egress", []):
            cidrs = [peer.get("ipBlock", {}).get("cidr") for peer in rule.get("to", [])]
            if "0.0.0.0/0" in cidrs:
                names.add(policy["metadata"]["name"])
                assert sorted(port["port"] for port in rule["ports"]) == [80, 443]

    assert names == {"ferry-importer", "ferry-notifier"}


@pytest.mark.parametrize("excepted", EXCEPTED_IPV4 + EXCEPTED_IPV6)
def test_prod_internet_egress_excepts_range(rendered, excepted):
    network = ipaddress.ip_network(excepted)
    blocks = [
        block for block in _internet_blocks(rendered["prod"])
        if ipaddress.ip_network(block["cidr"]).version == network.version
    ]

    assert len(blocks) == 2
    for block in blocks:
        assert any(network.subnet_of(ipaddress.ip_network(cidr)) for cidr in block["except"])


def test_prod_importer_autoscales_on_cpu(rendered):
    autoscaler = _named(rendered["prod"], "HorizontalPodAutoscaler", "ferry-importer")

    (metric,) = autoscaler["spec"]["metrics"]

    assert autoscaler["spec"]["scaleTargetRef"]["name"] == "ferry-importer"
    assert metric["resource"]["name"] == "cpu"


def test_prod_importer_replicas_are_left_to_autoscaler(rendered):
    deployment = _named(rendered["prod"], "Deployment", "ferry-importer")

    assert "replicas" not in deployment["spec"]


def test_prod_importer_requests_cpu(rendered):
    container = _ferry_container(rendered["prod"], "importer")

    assert "cpu" in container["resources"]["requests"]


@pytest.mark.parametrize("service", SERVICES)
def test_prod_service_has_resources_and_budget(rendered, service):
    container = _ferry_container(rendered["prod"], service)
    budget = _named(rendered["prod"], "PodDisruptionBudget", f"ferry-{service}")

    assert "memory" in container["resources"]["limits"]
    assert budget["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == service


def test_prod_nats_routes_name_every_server(rendered):
    nats = _named(rendered["prod"], "StatefulSet", "ferry-nats")
    conf = _named(rendered["prod"], "ConfigMap", "ferry-nats-config")["data"]["nats.conf"]
    service = nats["spec"]["serviceName"]

    routes = [line.strip() for line in conf.splitlines() if line.strip().startswith("nats://")]

    assert nats["spec"]["replicas"] == 3
    assert routes == [f"nats://ferry-nats-{index}.{service}:6222" for index in range(3)]
    assert "jetstream {" in conf


def test_dev_nats_runs_jetstream(rendered):
    deployment = _named(rendered["dev"], "Deployment", "ferry-nats")

    (container,) = deployment["spec"]["template"]["spec"]["containers"]

    assert container["image"] == "nats:2.10-alpine"
    assert "-js" in container["args"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_nats_url_names_nats_service(rendered, overlay):
    url = _ferry_config(rendered[overlay])["FERRY_NATS_URL"]

    service = _named(rendered[overlay], "Service", "ferry-nats")

    assert url == f"nats://ferry-nats:{service['spec']['ports'][0]['port']}"
