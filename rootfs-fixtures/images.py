#!/usr/bin/env python3
"""Write berth's fixture image archives, byte for byte reproducibly, and check every digest.

Called by rootfs-fixtures/build:  images.py BUSYBOX PROBE OUTDIR

Every archive is deterministic: entries sorted by name, mtime 2024-01-01, owner 0/0 with no user
or group names, gzip without name or time, JSON with sorted keys. The same busybox and probe
binaries therefore give the same digests on every run.
"""

import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile

EPOCH = 1704067200  # 2024-01-01T00:00:00Z
CREATED = "2024-01-01T00:00:00Z"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"


# ---------------------------------------------------------------------------------------------
# Tar entries and archives


def entry(name, kind, mode, data=b"", target=""):
    """One tar member. kind is a tarfile type (REGTYPE, DIRTYPE, SYMTYPE, LNKTYPE, FIFOTYPE)."""
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.mtime = EPOCH
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.linkname = target
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    return info, data


def d(name, mode=0o755):
    return entry(name, tarfile.DIRTYPE, mode)


def f(name, data, mode=0o644):
    return entry(name, tarfile.REGTYPE, mode, data)


def symlink(name, target):
    return entry(name, tarfile.SYMTYPE, 0o777, target=target)


def hardlink(name, target):
    return entry(name, tarfile.LNKTYPE, 0o644, target=target)


def fifo(name, mode=0o644):
    return entry(name, tarfile.FIFOTYPE, mode)


def with_parents(entries):
    """Add a 0755 directory entry for every parent that has none, as docker's diffs do."""
    names = {info.name.rstrip("/") for info, _ in entries}
    extra = []
    for info, _ in entries:
        parts = info.name.strip("/").split("/")[:-1]
        for i in range(1, len(parts) + 1):
            parent = "/".join(parts[:i])
            if parent not in names:
                names.add(parent)
                extra.append(d(parent))
    return entries + extra


def tar_bytes(entries, sort=True):
    """A tar archive of the entries; sorted by name so parents come before children."""
    if sort:
        entries = sorted(entries, key=lambda e: e[0].name.rstrip("/"))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buf.getvalue()


def gzip_bytes(data):
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=6) as gz:
        gz.write(data)
    return buf.getvalue()


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def hexof(digest):
    return digest.split(":", 1)[1]


def canonical_json(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


# ---------------------------------------------------------------------------------------------
# Images


class Image:
    """An image: its name, its uncompressed layer tars and its config (diff_ids filled in)."""

    def __init__(self, name, layers, config, history):
        self.name = name
        self.layers = layers
        config = dict(config)
        config["created"] = CREATED
        config["architecture"] = "amd64"
        config["os"] = "linux"
        config["rootfs"] = {"type": "layers", "diff_ids": [sha256(layer) for layer in layers]}
        config["history"] = [
            {"created": CREATED, "created_by": line, "comment": "rootfs-fixtures"}
            for line in history
        ]
        assert len(history) == len(layers)
        self.config = canonical_json(config)

    def oci_archive(self, config_bytes=None):
        """The OCI image layout as one tar. config_bytes replaces the stored config blob."""
        blobs = {}
        layer_descs = []
        for layer in self.layers:
            blob = gzip_bytes(layer)
            blobs[sha256(blob)] = blob
            layer_descs.append({"mediaType": OCI_LAYER_GZIP, "digest": sha256(blob), "size": len(blob)})
        config_desc = {"mediaType": OCI_CONFIG, "digest": sha256(self.config), "size": len(self.config)}
        blobs[config_desc["digest"]] = self.config if config_bytes is None else config_bytes
        manifest = canonical_json({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": config_desc,
            "layers": layer_descs,
        })
        blobs[sha256(manifest)] = manifest
        index = canonical_json({
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [{
                "mediaType": OCI_MANIFEST,
                "digest": sha256(manifest),
                "size": len(manifest),
                "platform": {"architecture": "amd64", "os": "linux"},
                "annotations": {
                    "io.containerd.image.name": f"docker.io/library/{self.name}:latest",
                    "org.opencontainers.image.ref.name": "latest",
                },
            }],
        })
        entries = [
            f("oci-layout", canonical_json({"imageLayoutVersion": "1.0.0"})),
            f("index.json", index),
            d("blobs"),
            d("blobs/sha256"),
        ]
        entries += [f("blobs/sha256/" + hexof(dg), blob) for dg, blob in blobs.items()]
        return tar_bytes(entries)

    def docker_archive(self, layer_override=None):
        """The classic `docker save` layout. layer_override maps a layer index to other bytes."""
        layer_override = layer_override or {}
        config_name = hexof(sha256(self.config)) + ".json"
        entries = [f(config_name, self.config)]
        layer_paths = []
        parent = None
        for i, layer in enumerate(self.layers):
            # Directory names are chain IDs: unique per position in the stack, stable per content.
            diff_id = sha256(layer)
            chain = diff_id if parent is None else sha256(f"{parent} {diff_id}".encode())
            layer_id = hexof(chain)
            v1 = {"id": layer_id, "created": CREATED, "os": "linux"}
            if parent is not None:
                v1["parent"] = hexof(parent)
            entries += [
                d(layer_id),
                f(layer_id + "/VERSION", b"1.0"),
                f(layer_id + "/json", canonical_json(v1)),
                f(layer_id + "/layer.tar", layer_override.get(i, layer)),
            ]
            layer_paths.append(layer_id + "/layer.tar")
            parent = chain
        manifest = [{"Config": config_name, "RepoTags": [f"{self.name}:latest"], "Layers": layer_paths}]
        entries.append(f("manifest.json", canonical_json(manifest)))
        entries.append(f("repositories", canonical_json({self.name: {"latest": hexof(parent)}})))
        return tar_bytes(entries)


def busybox_layer(busybox, probe):
    applets = subprocess.run([busybox, "--list-full"], check=True, capture_output=True, text=True)
    entries = [
        d("bin"), d("dev"), d("etc"), d("home"), d("proc", 0o555), d("root", 0o700), d("sbin"),
        d("sys", 0o555), d("tmp", 0o1777), d("usr"), d("usr/bin"), d("usr/sbin"), d("usr/local"),
        d("usr/local/bin"), d("var"), d("www"),
        f("bin/busybox", busybox_bytes(busybox), 0o755),
        f("usr/local/bin/probe", probe, 0o755),
        f("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n"
                        b"daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
                        b"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"),
        f("etc/group", b"root:x:0:\ndaemon:x:1:\nusers:x:100:nobody\nnogroup:x:65534:\n"),
        f("etc/shadow", b"root:*:19723:0:99999:7:::\ndaemon:*:19723:0:99999:7:::\n"
                        b"nobody:*:19723:0:99999:7:::\n", 0o600),
        f("www/index.html", b"hello from berth\n"),
    ]
    for path in applets.stdout.split():
        # `--list-full` names each applet's conventional home; `linuxrc` (for initrds) is skipped.
        if path.split("/")[0] in ("bin", "sbin", "usr") and path != "bin/busybox":
            entries.append(symlink(path, "/bin/busybox"))
    return tar_bytes(with_parents(entries))


def busybox_bytes(path):
    with open(path, "rb") as fh:
        return fh.read()


BUSYBOX_HISTORY = "ADD rootfs/ / # busybox-static applets, /etc/passwd, /etc/group, probe, /www"


def make_busybox(base):
    return Image("busybox", [base], {"config": {"Env": [PATH_ENV], "Cmd": ["sh"]}}, [BUSYBOX_HISTORY])


def make_layers(base, probe):
    layer2 = tar_bytes([
        d("data"),
        f("data/keep.txt", b"keep\n"),
        f("data/gone.txt", b"gone\n"),
        d("data/olddir"),
        f("data/olddir/a", b"a\n"),
        f("data/olddir/b", b"b\n"),
        f("data/replaced", b"a file here, a directory in the next layer\n"),
    ])
    layer3 = tar_bytes([
        d("data"),
        f("data/.wh.gone.txt", b""),
        d("data/olddir"),
        f("data/olddir/.wh..wh..opq", b""),
        f("data/olddir/new.txt", b"new\n"),
        d("data/replaced"),
        f("data/replaced/inner.txt", b"inner\n"),
        symlink("data/link", "keep.txt"),
        f("data/hl-a", b"hard linked\n"),
        hardlink("data/hl-b", "data/hl-a"),
        f("data/suid", probe, 0o4755),
        fifo("data/fifo"),
    ])
    config = {"config": {
        "Entrypoint": ["/bin/echo", "entry"],
        "Cmd": ["default-cmd"],
        "Env": [PATH_ENV, "FIXTURE=layers", "GREETING=hello"],
        "WorkingDir": "/data/work",
        "User": "nobody",
        "ExposedPorts": {"80/tcp": {}},
        "Labels": {"org.example.fixture": "layers"},
        "StopSignal": "SIGTERM",
    }}
    history = [
        BUSYBOX_HISTORY,
        "COPY data/ /data/ # keep.txt gone.txt olddir/{a,b} replaced",
        "RUN rm /data/gone.txt && rm -r /data/olddir/* /data/replaced && ... # whiteouts, "
        "link, hard links, setuid, fifo",
    ]
    return Image("layers", [base, layer2, layer3], config, history)


# evil-docker.tar's second layer. A correct engine refuses each member or keeps it inside the
# layer; none of these canaries may appear outside the store:
#   ../../escape-canary        relative path climbing out of the layer directory
#   /abs-canary                absolute member name
#   link -> /tmp, then link/through-link-canary   a write through a symlink to the host's /tmp
#   passwd-hardlink => ../../../etc/passwd        a hard link to a file outside the layer
EVIL_CANARIES = ["escape-canary", "abs-canary", "through-link-canary", "passwd-hardlink"]


def make_evil(base):
    layer = tar_bytes([
        f("../../escape-canary", b"escaped\n"),
        f("/abs-canary", b"absolute\n"),
        symlink("link", "/tmp"),
        f("link/through-link-canary", b"through a link\n"),
        hardlink("passwd-hardlink", "../../../etc/passwd"),
    ], sort=False)
    history = [BUSYBOX_HISTORY, "ADD evil.tar / # members that try to leave the layer"]
    return Image("evil", [base, layer], {"config": {"Env": [PATH_ENV], "Cmd": ["sh"]}}, history)


# ---------------------------------------------------------------------------------------------
# Verification: every digest, size and diff_id of an archive, in either shape.


def verify(data):
    """Problems found in an image archive (an empty list means every digest matches)."""
    problems = []
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isreg()}

    def blob(digest, size=None):
        content = members.get("blobs/sha256/" + hexof(digest))
        if content is None:
            problems.append(f"missing blob {digest}")
        elif sha256(content) != digest:
            problems.append(f"blob {digest} has digest {sha256(content)}")
        elif size is not None and len(content) != size:
            problems.append(f"blob {digest} has size {len(content)}, descriptor says {size}")
        return content

    def check_layers(config, layer_tars):
        diff_ids = json.loads(config)["rootfs"]["diff_ids"]
        if len(diff_ids) != len(layer_tars):
            problems.append(f"{len(layer_tars)} layers but {len(diff_ids)} diff_ids")
        for want, layer in zip(diff_ids, layer_tars):
            if layer is not None and sha256(layer) != want:
                problems.append(f"layer has diff_id {sha256(layer)}, config says {want}")

    if "oci-layout" in members:
        for desc in json.loads(members["index.json"])["manifests"]:
            manifest = blob(desc["digest"], desc["size"])
            if manifest is None:
                continue
            manifest = json.loads(manifest)
            config = blob(manifest["config"]["digest"], manifest["config"]["size"])
            layers = []
            for layer in manifest["layers"]:
                content = blob(layer["digest"], layer["size"])
                layers.append(gzip.decompress(content) if content is not None else None)
            if config is not None:
                check_layers(config, layers)
    else:
        for image in json.loads(members["manifest.json"]):
            config = members[image["Config"]]
            if sha256(config) != "sha256:" + image["Config"].removesuffix(".json"):
                problems.append(f"config {image['Config']} has digest {sha256(config)}")
            check_layers(config, [members.get(path) for path in image["Layers"]])
    return problems


# ---------------------------------------------------------------------------------------------


def main():
    busybox, probe_path, outdir = sys.argv[1:4]
    with open(probe_path, "rb") as fh:
        probe = fh.read()
    base = busybox_layer(busybox, probe)
    busybox_img = make_busybox(base)
    layers_img = make_layers(base, probe)
    evil_img = make_evil(base)

    good = {
        "busybox-oci.tar": busybox_img.oci_archive(),
        "busybox-docker.tar": busybox_img.docker_archive(),
        "layers-oci.tar": layers_img.oci_archive(),
        "layers-docker.tar": layers_img.docker_archive(),
        # Digests all match: the danger is in the layer's member names.
        "evil-docker.tar": evil_img.docker_archive(),
    }
    # One byte of the layer's file data changed: the tar still parses, its diff_id does not match.
    marker = b"hello from berth\n"
    assert base.count(marker) == 1
    corrupt_layer = base.replace(marker, b"jello from berth\n")
    # The stored config blob differs from its digest but keeps its size.
    bad_config = busybox_img.config.replace(b'"Cmd":["sh"]', b'"Cmd":["ls"]')
    assert bad_config != busybox_img.config and len(bad_config) == len(busybox_img.config)
    bad = {
        "corrupt-docker.tar": busybox_img.docker_archive(layer_override={0: corrupt_layer}),
        "badconfig-oci.tar": busybox_img.oci_archive(config_bytes=bad_config),
    }

    for name, data in good.items():
        problems = verify(data)
        if problems:
            sys.exit(f"images.py: {name} is malformed: {'; '.join(problems)}")
    for name, data in bad.items():
        if not verify(data):
            sys.exit(f"images.py: {name} should fail verification but does not")

    sums = []
    for name, data in sorted({**good, **bad}.items()):
        with open(os.path.join(outdir, name), "wb") as fh:
            fh.write(data)
        sums.append(f"{hashlib.sha256(data).hexdigest()}  {name}\n")
    # The image IDs (config digests) tests can compare with `berth images`/`image inspect`.
    ids = {img.name: sha256(img.config) for img in (busybox_img, layers_img, evil_img)}
    with open(os.path.join(outdir, "image-ids.json"), "wb") as fh:
        fh.write(json.dumps(ids, indent=2, sort_keys=True).encode() + b"\n")
    with open(os.path.join(outdir, "SHA256SUMS"), "w") as fh:
        fh.writelines(sums)


if __name__ == "__main__":
    main()
