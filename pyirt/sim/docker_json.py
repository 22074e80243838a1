"""The Engine API's JSON for simulated resources, shaped like Docker Engine 20.10 (API 1.41) answers:
container inspect and list entries, stats samples, images, networks and the version."""

from __future__ import annotations

import shlex
from typing import Any

from pyirt.sim.docker_model import NS, Container, Network, rfc3339

API_VERSION = "1.41"
MIN_API_VERSION = "1.12"
ENGINE_VERSION = "20.10.24-irt-sim"
HEADERS = {"Api-Version": API_VERSION, "Docker-Experimental": "false", "Ostype": "linux",
           "Server": f"Docker/{ENGINE_VERSION} (linux)"}


def version(host_cpus: int, kernel: str = "6.1.0-irt-sim") -> dict[str, Any]:
    details = {"ApiVersion": API_VERSION, "Arch": "amd64", "BuildTime": "2026-01-01T00:00:00.000000000+00:00",
               "Experimental": "false", "GitCommit": "irt-sim", "GoVersion": "go1.19.8", "KernelVersion": kernel,
               "MinAPIVersion": MIN_API_VERSION, "Os": "linux"}
    return {"Platform": {"Name": "pyirt Docker Engine simulator"},
            "Components": [{"Name": "Engine", "Version": ENGINE_VERSION, "Details": details}],
            "Version": ENGINE_VERSION, "ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION,
            "GitCommit": "irt-sim", "GoVersion": "go1.19.8", "Os": "linux", "Arch": "amd64", "KernelVersion": kernel,
            "BuildTime": details["BuildTime"]}


def _state(c: Container) -> dict[str, Any]:
    return {"Status": c.status, "Running": c.running, "Paused": c.status == "paused", "Restarting": False,
            "OOMKilled": c.oom_killed, "Dead": False, "Pid": c.pid if c.running else 0, "ExitCode": c.exit_code,
            "Error": "", "StartedAt": rfc3339(c.started_ns), "FinishedAt": rfc3339(c.finished_ns)}


def _endpoint(c: Container, name: str, networks: dict[str, Network], *, listing: bool) -> dict[str, Any]:
    ep = c.networks[name]
    net = networks.get(name)
    no_ip = name in ("none", "host")
    return {"IPAMConfig": None, "Links": None, "Aliases": None if listing or not ep.aliases else list(ep.aliases),
            "NetworkID": ep.network_id, "EndpointID": ep.endpoint_id,
            "Gateway": "" if no_ip or net is None else f"172.{net.subnet}.0.1", "IPAddress": "" if no_ip else ep.ip,
            "IPPrefixLen": 0 if no_ip else 16, "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
            "MacAddress": "" if no_ip else ep.mac, "DriverOpts": None}


def inspect(c: Container, networks: dict[str, Network]) -> dict[str, Any]:
    path, args = (c.cmd[0], c.cmd[1:]) if c.cmd else ("", [])
    return {
        "Id": c.id, "Created": rfc3339(c.created_ns), "Path": path, "Args": args, "State": _state(c),
        "Image": c.image_id, "ResolvConfPath": "", "HostnamePath": "", "HostsPath": "", "LogPath": "",
        "Name": f"/{c.name}", "RestartCount": c.restart_count, "Driver": "overlay2", "Platform": "linux",
        "MountLabel": "", "ProcessLabel": "", "AppArmorProfile": "", "ExecIDs": None,
        "HostConfig": {
            "Binds": None, "ContainerIDFile": "", "LogConfig": {"Type": "json-file", "Config": {}},
            "NetworkMode": c.network_mode, "PortBindings": None, "RestartPolicy": {"Name": "", "MaximumRetryCount": 0},
            "AutoRemove": False, "VolumeDriver": "", "VolumesFrom": None, "CapAdd": None, "CapDrop": None,
            "CgroupnsMode": "host", "Dns": None, "DnsOptions": None, "DnsSearch": None, "ExtraHosts": None,
            "GroupAdd": None, "IpcMode": "private", "Cgroup": "", "Links": None, "OomScoreAdj": 0, "PidMode": "",
            "Privileged": False, "PublishAllPorts": False, "ReadonlyRootfs": False, "SecurityOpt": None,
            "UTSMode": "", "UsernsMode": "", "ShmSize": 67108864, "Runtime": "runc", "ConsoleSize": [0, 0],
            "Isolation": "", "CpuShares": c.cpu_shares, "Memory": c.memory_limit, "NanoCpus": c.nano_cpus,
            "CgroupParent": "", "BlkioWeight": 0, "BlkioWeightDevice": None, "BlkioDeviceReadBps": None,
            "BlkioDeviceWriteBps": None, "BlkioDeviceReadIOps": None, "BlkioDeviceWriteIOps": None, "CpuPeriod": 0,
            "CpuQuota": 0, "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0, "CpusetCpus": "", "CpusetMems": "",
            "Devices": None, "DeviceCgroupRules": None, "DeviceRequests": None, "KernelMemory": 0,
            "KernelMemoryTCP": 0, "MemoryReservation": c.memory_reservation, "MemorySwap": c.memory_swap,
            "MemorySwappiness": None, "OomKillDisable": False, "PidsLimit": c.pids_limit, "Ulimits": None,
            "CpuCount": 0, "CpuPercent": 0, "IOMaximumIOps": 0, "IOMaximumBandwidth": 0,
        },
        "GraphDriver": {"Data": None, "Name": "overlay2"},
        "Mounts": [],
        "Config": {
            "Hostname": c.short_id, "Domainname": "", "User": "", "AttachStdin": False, "AttachStdout": True,
            "AttachStderr": True, "Tty": c.tty, "OpenStdin": False, "StdinOnce": False, "Env": list(c.env),
            "Cmd": list(c.cmd), "Image": c.image, "Volumes": None, "WorkingDir": "", "Entrypoint": None,
            "OnBuild": None, "Labels": dict(c.labels),
        },
        "NetworkSettings": {
            "Bridge": "", "SandboxID": c.id[::-1], "HairpinMode": False, "LinkLocalIPv6Address": "",
            "LinkLocalIPv6PrefixLen": 0, "Ports": {}, "SandboxKey": f"/var/run/docker/netns/{c.id[-12:]}",
            "SecondaryIPAddresses": None, "SecondaryIPv6Addresses": None, "EndpointID": "", "Gateway": "",
            "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "",
            "MacAddress": "",
            "Networks": {name: _endpoint(c, name, networks, listing=False) for name in c.networks},
        },
    }


def _since(seconds: float) -> str:
    """Docker's human duration (go-units HumanDuration), as `docker ps` shows it."""
    if seconds < 1:
        return "Less than a second"
    if seconds < 60:
        return f"{int(seconds)} seconds" if int(seconds) != 1 else "1 second"
    minutes = seconds / 60
    if minutes < 60:
        return "About a minute" if int(minutes) == 1 else f"{int(minutes)} minutes"
    hours = minutes / 60
    if hours < 48:
        return "About an hour" if round(hours) == 1 else f"{round(hours)} hours"
    return f"{int(hours / 24)} days"


def summary(c: Container, networks: dict[str, Network], now: float) -> dict[str, Any]:
    if c.running:
        status = f"Up {_since(now - c.started_ns / NS)}" + (" (Paused)" if c.status == "paused" else "")
    elif c.status == "created":
        status = "Created"
    else:
        status = f"Exited ({c.exit_code}) {_since(now - c.finished_ns / NS)} ago"
    return {
        "Id": c.id, "Names": [f"/{c.name}"], "Image": c.image, "ImageID": c.image_id,
        "Command": shlex.join(c.cmd), "Created": c.created_ns // NS, "Ports": [], "Labels": dict(c.labels),
        "State": c.status, "Status": status, "HostConfig": {"NetworkMode": c.network_mode},
        "NetworkSettings": {"Networks": {name: _endpoint(c, name, networks, listing=True) for name in c.networks}},
        "Mounts": [],
    }


def _cpu(c: Container, t: float, host_cpus: int, boot: float) -> dict[str, Any]:
    busy = int(max(0.0, t - c.started_ns / NS) * c.cpu * NS)
    per = [busy // host_cpus] * host_cpus
    return {"cpu_usage": {"total_usage": busy, "percpu_usage": per, "usage_in_kernelmode": busy // 4,
                          "usage_in_usermode": busy - busy // 4},
            "system_cpu_usage": int((t - boot) * host_cpus * NS), "online_cpus": host_cpus,
            "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}}


_ZERO_CPU = {"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
             "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}}
_BLKIO_KEYS = ("io_service_bytes_recursive", "io_serviced_recursive", "io_queue_recursive",
               "io_service_time_recursive", "io_wait_time_recursive", "io_merged_recursive", "io_time_recursive",
               "sectors_recursive")


def stats(c: Container, now: float, *, host_cpus: int, host_memory: int, boot: float,
          one_shot: bool) -> dict[str, Any]:
    """One stats sample, as a cgroup v1 engine reports it. A stopped container gives the empty
    sample the engine gives (zero read time, empty memory_stats)."""
    if not c.running:
        return {"read": rfc3339(0), "preread": rfc3339(0), "pids_stats": {},
                "blkio_stats": dict.fromkeys(_BLKIO_KEYS), "num_procs": 0, "storage_stats": {},
                "cpu_stats": _ZERO_CPU, "precpu_stats": _ZERO_CPU, "memory_stats": {}, "name": f"/{c.name}",
                "id": c.id}
    usage = c.memory_usage(now, host_memory)
    limit = c.memory_limit or host_memory
    cache = min(usage // 50, 8 * 1024 * 1024)
    details = {"active_anon": usage - cache, "active_file": cache, "cache": cache, "dirty": 0,
               "hierarchical_memory_limit": limit, "hierarchical_memsw_limit": c.memory_swap if c.memory_swap > 0
               else limit, "inactive_anon": 0, "inactive_file": 0, "mapped_file": cache // 2, "rss": usage - cache,
               "rss_huge": 0, "unevictable": 0, "writeback": 0}
    details.update({f"total_{k}": v for k, v in list(details.items()) if not k.startswith("hierarchical")})
    up = max(0.0, now - c.started_ns / NS)
    rx = int(up * 2048)
    return {
        "read": rfc3339(int(now * NS)), "preread": rfc3339(0) if one_shot else rfc3339(int((now - 1) * NS)),
        "pids_stats": {"current": c.pids, **({"limit": c.pids_limit} if c.pids_limit else {})},
        "blkio_stats": {k: [] for k in _BLKIO_KEYS}, "num_procs": 0, "storage_stats": {},
        "cpu_stats": _cpu(c, now, host_cpus, boot),
        "precpu_stats": _ZERO_CPU if one_shot else _cpu(c, now - 1, host_cpus, boot),
        "memory_stats": {"usage": usage, "max_usage": max(usage, c.memory.at(now)), "stats": details, "limit": limit},
        "name": f"/{c.name}", "id": c.id,
        "networks": {"eth0": {"rx_bytes": rx, "rx_packets": rx // 512, "rx_errors": 0, "rx_dropped": 0,
                              "tx_bytes": rx // 2, "tx_packets": rx // 1024, "tx_errors": 0, "tx_dropped": 0}},
    }


def image(name: str, image_id: str, created_ns: int) -> dict[str, Any]:
    config = {"Hostname": "", "Domainname": "", "User": "", "AttachStdin": False, "AttachStdout": False,
              "AttachStderr": False, "Tty": False, "OpenStdin": False, "StdinOnce": False,
              "Env": ["PATH=/usr/local/bin:/usr/bin:/bin"], "Cmd": None, "Image": "", "Volumes": None,
              "WorkingDir": "", "Entrypoint": None, "OnBuild": None, "Labels": None}
    return {"Id": image_id, "RepoTags": [name], "RepoDigests": [], "Parent": "", "Comment": "",
            "Created": rfc3339(created_ns), "Container": "", "ContainerConfig": config,
            "DockerVersion": ENGINE_VERSION, "Author": "", "Config": config, "Architecture": "amd64", "Os": "linux",
            "Size": 12_345_678, "VirtualSize": 12_345_678, "GraphDriver": {"Data": None, "Name": "overlay2"},
            "RootFS": {"Type": "layers", "Layers": ["sha256:" + image_id[7:][::-1]]}, "Metadata": {"LastTagTime": ""}}


def network(net: Network, containers: list[Container]) -> dict[str, Any]:
    attached = {c.id: {"Name": c.name, "EndpointID": c.networks[net.name].endpoint_id,
                       "MacAddress": c.networks[net.name].mac, "IPv4Address": f"{c.networks[net.name].ip}/16",
                       "IPv6Address": ""}
                for c in containers if net.name in c.networks}
    builtin = net.name in ("none", "host")
    return {"Name": net.name, "Id": net.id, "Created": rfc3339(net.created_ns), "Scope": "local",
            "Driver": "null" if net.name == "none" else "host" if net.name == "host" else net.driver,
            "EnableIPv6": False,
            "IPAM": {"Driver": "default", "Options": None,
                     "Config": [] if builtin else [{"Subnet": f"172.{net.subnet}.0.0/16",
                                                    "Gateway": f"172.{net.subnet}.0.1"}]},
            "Internal": net.internal, "Attachable": False, "Ingress": False, "ConfigFrom": {"Network": ""},
            "ConfigOnly": False, "Containers": attached, "Options": {}, "Labels": dict(net.labels)}
