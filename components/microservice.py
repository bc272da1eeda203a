"""The `Microservice` component: one service of the system in one environment."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker
import pulumi_kubernetes as k8s

from components.labels import recommended_labels, selector_labels
from components.naming import content_hash
from components.settings import EnvironmentSettings, ServiceSettings

SERVICE_PORT = 80
"""The port other pods and the ingress use; the Service maps it to the container's port."""


@dataclass(frozen=True)
class MicroserviceArgs:
    """What one `Microservice` needs.

    Attributes:
        service: the service's settings in this environment (catalog entry plus stack config).
        environment: the environment's settings (namespace, prefix, version, registry).
        namespace: the namespace's name, as an output so that the namespace is created first.
    """

    service: ServiceSettings
    environment: EnvironmentSettings
    namespace: pulumi.Input[str]


class Microservice(pulumi.ComponentResource):
    """Image, ConfigMap, Secret, Deployment and (for HTTP services) Service of one service.

    Every Kubernetes object is named `{prefix}-{service}` (the ConfigMap adds a content hash, the
    Secret a suffix Pulumi chooses) inside the environment's namespace.
    """

    settings: ServiceSettings
    """The checked settings this instance was built from."""
    image: docker.Image | None
    """The image built from source, or None when the published image is deployed."""
    config_map: k8s.core.v1.ConfigMap
    secret: k8s.core.v1.Secret | None
    deployment: k8s.apps.v1.Deployment
    service: k8s.core.v1.Service | None

    image_ref: pulumi.Output[str]
    """The image reference the pods run (a digest when this program built the image)."""
    deployment_name: pulumi.Output[str]
    config_map_name: pulumi.Output[str]
    secret_name: pulumi.Output[str] | None
    service_name: pulumi.Output[str] | None
    service_dns: pulumi.Output[str] | None
    """The Service's in-cluster DNS name, `{name}.{namespace}.svc.cluster.local`."""

    def __init__(
        self, name: str, args: MicroserviceArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("notification-delivery:index:Microservice", name, None, opts)
        env = args.environment
        svc = args.service
        self._args = args
        self.settings = svc
        self._instance = env.object_name(svc.name)
        self._labels = recommended_labels(svc.name, self._instance, env.version)
        self._selector = selector_labels(svc.name, self._instance)
        child = pulumi.ResourceOptions(parent=self)

        self.image, self.image_ref = self._image(child)
        self.config_map = self._config_map(child)
        self.secret = self._secret(child)
        self.deployment = self._deployment(child)
        self.service = self._service(child) if svc.spec.http else None

        self.deployment_name = self.deployment.metadata.apply(lambda m: m.name)
        self.config_map_name = self.config_map.metadata.apply(lambda m: m.name)
        self.secret_name = self.secret.metadata.apply(lambda m: m.name) if self.secret else None
        if self.service is not None:
            self.service_name = self.service.metadata.apply(lambda m: m.name)
            self.service_dns = pulumi.Output.concat(
                self.service_name, ".", args.namespace, ".svc.cluster.local"
            )
        else:
            self.service_name = None
            self.service_dns = None

        self.register_outputs(
            {
                "imageRef": self.image_ref,
                "deploymentName": self.deployment_name,
                "configMapName": self.config_map_name,
                "secretName": self.secret_name,
                "serviceName": self.service_name,
                "serviceDns": self.service_dns,
            }
        )

    def _metadata(self, name: str | None = None) -> dict:
        meta: dict = {"namespace": self._args.namespace, "labels": self._labels}
        if name is not None:
            meta["name"] = name
        return meta

    def _image(
        self, opts: pulumi.ResourceOptions
    ) -> tuple[docker.Image | None, pulumi.Output[str]]:
        env, svc = self._args.environment, self._args.service
        tagged = f"{env.registry.server}/{svc.name}:{env.image_tag}"
        if svc.image:
            return None, pulumi.Output.from_input(svc.image)
        if svc.build is None:
            return None, pulumi.Output.from_input(tagged)
        registry = None
        if env.registry.username and env.registry.password:
            registry = docker.RegistryArgs(
                server=env.registry.server.split("/")[0],
                username=env.registry.username,
                password=pulumi.Output.secret(env.registry.password.value),
            )
        image = docker.Image(
            self._instance,
            image_name=tagged,
            build=docker.DockerBuildArgs(
                context=svc.build.context,
                dockerfile=svc.build.dockerfile,
                platform=svc.build.platform,
            ),
            registry=registry,
            opts=opts,
        )
        # The digest, not the tag: a rebuild under the same tag must still change the pod
        # template, or the pods keep running the old image (pulumi-docker #726).
        return image, image.repo_digest

    def _config_map(self, opts: pulumi.ResourceOptions) -> k8s.core.v1.ConfigMap:
        data = dict(sorted(self._args.service.env.items()))
        return k8s.core.v1.ConfigMap(
            self._instance,
            metadata=self._metadata(f"{self._instance}-{content_hash(data)}"),
            data=data,
            immutable=True,
            opts=opts,
        )

    def _secret(self, opts: pulumi.ResourceOptions) -> k8s.core.v1.Secret | None:
        secrets = self._args.service.secrets
        if not secrets:
            return None
        # No explicit name: Pulumi names it `{prefix}-{service}-<random>` and picks a new name
        # each time the data changes, which rolls the Deployment without anything derived from
        # the secret values ever leaving the Secret (a hash would be open to brute force and
        # would turn the whole Deployment diff secret, pulumi-kubernetes #1576).
        return k8s.core.v1.Secret(
            self._instance,
            metadata=self._metadata(),
            type="Opaque",
            string_data={k: pulumi.Output.secret(v.value) for k, v in sorted(secrets.items())},
            immutable=True,
            opts=pulumi.ResourceOptions.merge(
                opts, pulumi.ResourceOptions(replace_on_changes=["stringData", "data"])
            ),
        )

    def _deployment(self, opts: pulumi.ResourceOptions) -> k8s.apps.v1.Deployment:
        svc = self._args.service
        env_from: list[dict] = [{"config_map_ref": {"name": self.config_map.metadata.name}}]
        if self.secret is not None:
            env_from.append({"secret_ref": {"name": self.secret.metadata.name}})
        pinned = self.image is not None or "@sha256:" in (svc.image or "")
        pull_policy = svc.image_pull_policy or ("IfNotPresent" if pinned else "Always")
        container = {
            "name": svc.name,
            "image": self.image_ref,
            # A tag such as 1.0.0-dev is re-pushed on every commit of its branch: pull it each
            # time. A digest never changes, so the node's copy is good.
            "image_pull_policy": pull_policy,
            "ports": [{"name": "http", "container_port": svc.spec.port, "protocol": "TCP"}],
            "env_from": env_from,
        }
        return k8s.apps.v1.Deployment(
            self._instance,
            metadata=self._metadata(self._instance),
            spec={
                "replicas": svc.replicas,
                "selector": {"match_labels": self._selector},
                "template": {
                    "metadata": {"labels": self._labels},
                    "spec": {"containers": [container]},
                },
            },
            opts=opts,
        )

    def _service(self, opts: pulumi.ResourceOptions) -> k8s.core.v1.Service:
        return k8s.core.v1.Service(
            self._instance,
            metadata=self._metadata(self._instance),
            spec={
                "type": self._args.service.service_type,
                "selector": self._selector,
                "ports": [
                    {"name": "http", "port": SERVICE_PORT, "target_port": "http", "protocol": "TCP"}
                ],
            },
            opts=opts,
        )
