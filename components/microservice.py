"""The `Microservice` component: one service of the system in one environment."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pulumi
import pulumi_kubernetes as k8s

from components import labels, naming, pod
from components.args import MicroserviceArgs

if TYPE_CHECKING:
    # Imported by `_image` only when a service is built: no committed stack builds an image, and
    # importing pulumi_docker takes 80-140 ms of CPU on a loaded 2-core machine (measured with
    # pulumi and pulumi_kubernetes already imported), every `pulumi up` that would not use it.
    import pulumi_docker as docker
    from pulumi_kubernetes.apps.v1 import DeploymentSpecArgsDict
    from pulumi_kubernetes.core.v1 import (
        EnvFromSourceArgsDict,
        ServicePortArgsDict,
    )
    from pulumi_kubernetes.meta.v1 import ObjectMetaArgsDict
    from pulumi_kubernetes.networking.v1 import (
        HTTPIngressPathArgsDict,
        IngressSpecArgsDict,
        NetworkPolicyPeerArgsDict,
    )

SERVICE_PORT = 80
"""The port other pods and the ingress use; the Service maps it to the container's port."""


class Microservice(pulumi.ComponentResource):
    """Everything one service needs in one environment.

    Image, ServiceAccount, ConfigMap, Secret, Deployment; for HTTP services a Service, a
    NetworkPolicy letting the ingress controller in and optionally an Ingress; a
    PodDisruptionBudget where more than one replica runs and optionally a HorizontalPodAutoscaler.
    Every Kubernetes object is named `{prefix}-{service}` (the ConfigMap adds a content hash, the
    Secret a suffix Pulumi chooses) inside the environment's namespace.
    """

    def __init__(
        self, name: str, args: MicroserviceArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("notification-delivery:index:Microservice", name, None, opts)
        self.args = args
        """What this instance was built from."""
        self._instance = naming.instance(args.prefix, args.name)
        self._labels = labels.recommended_labels(args.name, self._instance)
        self._release_labels = labels.recommended_labels(args.name, self._instance, args.version)
        self._selector = labels.selector_labels(args.name, self._instance)
        child = pulumi.ResourceOptions(parent=self)

        self.image: docker.Image | None
        """The image built from source, or None when the published image is deployed."""
        self.image_ref: pulumi.Output[str]
        """The image reference the pods run (a digest when this program built the image)."""
        self.image, self.image_ref = self._image(child)
        self.service_account = self._service_account(child)
        self.config_map = self._config_map(child)
        self.secret = self._secret(child)
        self.deployment = self._deployment(child)
        self.service = self._service(child) if args.spec.http else None
        self.ingress_policy = self._ingress_policy(child) if args.spec.http else None
        self.ingress = (
            self._ingress(self.service, child)
            if self.service is not None and args.ingress.enabled and args.ingress_path
            else None
        )
        self.disruption_budget = self._disruption_budget(child) if args.min_replicas > 1 else None
        self.autoscaler = self._autoscaler(child) if args.autoscaling else None

        # The names the program sets are exported as it sets them; only the name the provider
        # chooses (the Secret's) is read back (tests/components/test_program.py holds them to the
        # objects').
        self.deployment_name = pulumi.Output.from_input(self._instance)
        self.config_map_name = pulumi.Output.from_input(self._config_map_name)
        self.secret_name = naming.name_of(self.secret) if self.secret else None
        self.service_name: pulumi.Output[str] | None = None
        self.service_dns: pulumi.Output[str] | None = None
        """The Service's in-cluster DNS name, `{name}.{namespace}.args.cluster.local`."""
        if self.service is not None:
            service_name = pulumi.Output.from_input(self._instance)
            self.service_name = service_name
            self.service_dns = pulumi.Output.all(service_name, args.namespace).apply(
                lambda parts: naming.service_dns(parts[0], parts[1])
            )

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

    def _metadata(self, name: str | None = None) -> ObjectMetaArgsDict:
        meta: ObjectMetaArgsDict = {"namespace": self.args.namespace, "labels": self._labels}
        if name is not None:
            meta["name"] = name
        return meta

    def _image(
        self, opts: pulumi.ResourceOptions
    ) -> tuple[docker.Image | None, pulumi.Output[str]]:
        args = self.args
        tagged = naming.published_image(args.registry.server, args.name, args.version, args.prefix)
        if args.image:
            return None, pulumi.Output.from_input(args.image)
        if args.build is None:
            return None, pulumi.Output.from_input(tagged)
        import pulumi_docker as docker  # only a build needs it (see the imports above)

        registry = None
        if args.registry.username and args.registry.password:
            registry = docker.RegistryArgs(
                server=args.registry.server.split("/")[0],
                username=args.registry.username,
                password=pulumi.Output.secret(args.registry.password.value),
            )
        image = docker.Image(
            self._instance,
            image_name=tagged,
            build=docker.DockerBuildArgs(
                context=args.build.context,
                dockerfile=args.build.dockerfile,
                platform=args.build.platform,
            ),
            registry=registry,
            opts=opts,
        )
        # The digest, not the tag: a rebuild under the same tag must still change the pod
        # template, or the pods keep running the old image (pulumi-docker #726).
        return image, image.repo_digest

    def _config_map(self, opts: pulumi.ResourceOptions) -> k8s.core.v1.ConfigMap:
        data = dict(sorted(self.args.env.items()))
        self._config_map_name = naming.config_map(self.args.prefix, self.args.name, data)
        return k8s.core.v1.ConfigMap(
            self._instance,
            metadata=self._metadata(self._config_map_name),
            data=data,
            immutable=True,
            opts=opts,
        )

    def _secret(self, opts: pulumi.ResourceOptions) -> k8s.core.v1.Secret | None:
        secrets = self.args.secrets
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

    def _service_account(self, opts: pulumi.ResourceOptions) -> k8s.core.v1.ServiceAccount:
        meta = self._metadata(self._instance)
        role = self.args.iam_role_arn
        if role:
            # IRSA: EKS injects credentials for this role; no static AWS keys needed.
            meta["annotations"] = {labels.IRSA_ROLE_ANNOTATION: role}
        return k8s.core.v1.ServiceAccount(
            self._instance, metadata=meta, automount_service_account_token=False, opts=opts
        )

    def _deployment(self, opts: pulumi.ResourceOptions) -> k8s.apps.v1.Deployment:
        args = self.args
        rollout = args.rollout
        env_from: list[EnvFromSourceArgsDict] = [
            {"config_map_ref": {"name": naming.name_of(self.config_map)}}
        ]
        if self.secret is not None:
            env_from.append({"secret_ref": {"name": naming.name_of(self.secret)}})
        main = pod.container(
            args, image=self.image_ref, pull_policy=args.image_pull_policy, env_from=env_from
        )
        spec: DeploymentSpecArgsDict = {
            "selector": {"match_labels": self._selector},
            "revision_history_limit": 5,
            "min_ready_seconds": rollout.min_ready_seconds,
            "progress_deadline_seconds": rollout.progress_deadline_seconds,
            # Never below the desired count: a new pod must be ready before an old one goes.
            "strategy": {
                "type": "RollingUpdate",
                "rolling_update": {"max_unavailable": 0, "max_surge": 1},
            },
            "template": {
                "metadata": {"labels": self._release_labels},
                "spec": pod.pod_spec(
                    args,
                    selector=self._selector,
                    service_account=naming.name_of(self.service_account),
                    main_container=main,
                ),
            },
        }
        meta = self._metadata(self._instance)
        meta["labels"] = self._release_labels
        # Fail the update with Kubernetes' reason instead of waiting on a rollout that is stuck.
        annotations = {labels.TIMEOUT_ANNOTATION: str(rollout.timeout_seconds)}
        if rollout.skip_await:
            annotations[labels.SKIP_AWAIT_ANNOTATION] = "true"
        # Who owns `spec.replicas` under server-side apply decides whether a switch between a
        # fixed count and an autoscaler loses pods (docs/engine.md, "Autoscaling transitions").
        if args.autoscaling is None:
            spec["replicas"] = args.replicas
            # A fixed count is the program's alone. After autoscaling, the autoscaler's controller
            # (kube-controller-manager) owns the field; without force every apply of a changed
            # count would fail with a field conflict, so the program takes the field back.
            annotations[labels.PATCH_FORCE_ANNOTATION] = "true"
        else:
            # Not sent, and ignored: the engine carries the last applied count over and the
            # provider keeps it as it is live until the autoscaler's first scale takes the field
            # over, then stops sending it. Merely leaving it out would release the field, and the
            # API server would default it to 1 before the autoscaler acts.
            opts = pulumi.ResourceOptions.merge(
                opts, pulumi.ResourceOptions(ignore_changes=["spec.replicas"])
            )
        meta["annotations"] = annotations
        return k8s.apps.v1.Deployment(self._instance, metadata=meta, spec=spec, opts=opts)

    def _disruption_budget(self, opts: pulumi.ResourceOptions) -> k8s.policy.v1.PodDisruptionBudget:
        return k8s.policy.v1.PodDisruptionBudget(
            self._instance,
            metadata=self._metadata(self._instance),
            spec={"max_unavailable": 1, "selector": {"match_labels": self._selector}},
            opts=opts,
        )

    def _autoscaler(
        self, opts: pulumi.ResourceOptions
    ) -> k8s.autoscaling.v2.HorizontalPodAutoscaler:
        scaling = self.args.autoscaling
        assert scaling is not None
        return k8s.autoscaling.v2.HorizontalPodAutoscaler(
            self._instance,
            metadata=self._metadata(self._instance),
            spec={
                "scale_target_ref": {
                    "api_version": "apps/v1",
                    "kind": "Deployment",
                    "name": naming.name_of(self.deployment),
                },
                "min_replicas": scaling.min_replicas,
                "max_replicas": scaling.max_replicas,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {
                                "type": "Utilization",
                                "average_utilization": scaling.target_cpu_utilization,
                            },
                        },
                    }
                ],
            },
            opts=opts,
        )

    def _ingress_policy(self, opts: pulumi.ResourceOptions) -> k8s.networking.v1.NetworkPolicy:
        """Let the ingress controller's namespace reach this service's pods, nothing else."""
        network = self.args.network
        sources: list[NetworkPolicyPeerArgsDict] = [
            {
                "namespace_selector": {
                    "match_labels": {"kubernetes.io/metadata.name": network.ingress_namespace}
                }
            }
        ]
        # Clients coming in through node ports (a kind cluster) are allowed by address too.
        for cidr in network.ingress_cidrs:
            peer: NetworkPolicyPeerArgsDict = {"ip_block": {"cidr": cidr}}
            sources.append(peer)
        name = naming.ingress_policy(self.args.prefix, self.args.name)
        return k8s.networking.v1.NetworkPolicy(
            name,
            metadata=self._metadata(name),
            spec={
                "pod_selector": {"match_labels": self._selector},
                "policy_types": ["Ingress"],
                "ingress": [
                    {
                        "from_": sources,
                        "ports": [{"port": "http", "protocol": "TCP"}],
                    }
                ],
            },
            opts=opts,
        )

    def _ingress(
        self, service: k8s.core.v1.Service, opts: pulumi.ResourceOptions
    ) -> k8s.networking.v1.Ingress:
        ingress = self.args.ingress
        prefix = self.args.ingress_path
        assert ingress.host and prefix  # __init__ makes an Ingress only when both are set
        path: HTTPIngressPathArgsDict = {
            "path": prefix,
            "path_type": "Prefix",
            "backend": {"service": {"name": naming.name_of(service), "port": {"name": "http"}}},
        }
        spec: IngressSpecArgsDict = {
            "ingress_class_name": ingress.class_name,
            "rules": [{"host": ingress.host, "http": {"paths": [path]}}],
        }
        if ingress.tls_secret_name:
            spec["tls"] = [{"hosts": [ingress.host], "secret_name": ingress.tls_secret_name}]
        meta = self._metadata(self._instance)
        if ingress.skip_await:
            # The provider waits for `status.loadBalancer.ingress` on every create and update;
            # a controller that never publishes it would fail each `up` after 10 minutes.
            meta["annotations"] = {labels.SKIP_AWAIT_ANNOTATION: "true"}
        return k8s.networking.v1.Ingress(self._instance, metadata=meta, spec=spec, opts=opts)

    def _service(self, opts: pulumi.ResourceOptions) -> k8s.core.v1.Service:
        port: ServicePortArgsDict = {
            "name": "http",
            "port": SERVICE_PORT,
            "target_port": "http",
            "protocol": "TCP",
        }
        if self.args.node_port is not None:
            port["node_port"] = self.args.node_port
        return k8s.core.v1.Service(
            self._instance,
            metadata=self._metadata(self._instance),
            spec={
                "type": self.args.service_type,
                "selector": self._selector,
                "ports": [port],
            },
            opts=opts,
        )
