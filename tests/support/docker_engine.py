"""A Docker engine, a locally built base image and throwaway containers for tests.

No image registry is reachable on the test machines, so the base image is built here:
``debootstrap --variant=minbase`` of Debian bookworm with a few packages (about 50 s),
kept as a rootfs tarball in the cache and ``docker import``-ed (about 3 s) when the
engine does not have it yet.

The engine is the one at DOCKER_HOST or /var/run/docker.sock when it answers;
otherwise this starts its own ``dockerd`` without a bridge network (containers run
with network_mode none), on its own socket in a temp dir, and stops it by pid.

    engine = start_engine()          # raises DockerUnavailable when docker cannot run here
    try:
        image = ensure_base_image(engine)
        with Containers(engine, image) as made:
            made.run('web', command=['sleep', 'infinity'])
    finally:
        engine.stop()

Debian packages: docker.io (dockerd, containerd, runc) and debootstrap. Python: docker.
The engine and image code is standard library only; containers use the docker SDK.

    python -m tests.support.docker_engine image       # build or import the base image
    python -m tests.support.docker_engine host-image  # the host image (datastores, logrotate)
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

SYSTEM_SOCKET = "/var/run/docker.sock"
SUITE = "bookworm"
BASE_PACKAGES = ("python3", "procps")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
IMAGE_REPOSITORY = "caretaker-test-base"
# Bump when the way the rootfs is made changes, so cached tarballs are rebuilt.
IMAGE_RECIPE = 1
# Label on every container made here: the pid of the test process that made it.
# Containers whose process is gone are left-overs of an interrupted run.
OWNER_LABEL = "caretaker.test.owner"
READY_TIMEOUT = 60
STOP_TIMEOUT = 30


class DockerUnavailable(Exception):
    """Docker cannot run on this machine; the text says why (tests skip with it)."""


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "caretaker"


def _sbin_which(name: str) -> str | None:
    path = os.environ.get("PATH", os.defpath) + ":/usr/sbin:/usr/local/sbin:/sbin"
    return shutil.which(name, path=path)


# --- talking to an engine without the SDK -------------------------------------------


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def ping(base_url: str, timeout: float = 2) -> bool:
    """True when the engine at base_url answers GET /_ping with OK."""
    if base_url.startswith("unix://"):
        conn = _UnixHTTPConnection(base_url[len("unix://"):], timeout)
    elif base_url.startswith(("tcp://", "http://")):
        host, _sep, port = base_url.split("://", 1)[1].rstrip("/").rpartition(":")
        conn = http.client.HTTPConnection(host or "127.0.0.1", int(port or 2375), timeout=timeout)
    else:
        return False
    try:
        conn.request("GET", "/_ping")
        response = conn.getresponse()
        return response.status == 200 and response.read().strip() == b"OK"
    except (OSError, http.client.HTTPException, ValueError):
        return False
    finally:
        conn.close()


# --- the engine ----------------------------------------------------------------------


class Engine:
    """A Docker engine to use: one that was already running (pid None) or our dockerd."""

    def __init__(self, base_url: str, pid: int | None = None, run_dir: str | None = None,
                 data_root: str | None = None, temporary_data: bool = False, lock=None, log: str | None = None):
        self.base_url = base_url
        self.pid = pid
        self.run_dir = run_dir
        self.data_root = data_root
        self.temporary_data = temporary_data
        self.log = log
        self._lock = lock
        self._proc = None

    def __repr__(self):
        return "Engine(%r, pid=%r)" % (self.base_url, self.pid)

    @property
    def started_here(self) -> bool:
        return self.pid is not None

    def client(self, timeout: float = 60):
        import docker  # the SDK; a test dependency (requirements.txt)
        return docker.DockerClient(base_url=self.base_url, version="auto", timeout=timeout)

    def alive(self) -> bool:
        if self.pid is None:
            return ping(self.base_url)
        try:
            comm = Path("/proc/%d/comm" % self.pid).read_text().strip()
            state = Path("/proc/%d/stat" % self.pid).read_text().rpartition(")")[2].split()[0]
        except OSError:
            return False
        return comm == "dockerd" and state not in ("Z", "X")

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop the dockerd started here (and the containerd it runs) by pid; a
        pre-existing engine is left alone."""
        if self.pid is None:
            return
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            if not self._wait_gone(timeout):
                # dockerd runs in its own session: the group is it and its containerd.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pid, signal.SIGKILL)
                self._wait_gone(5)
        if self._proc is not None:
            self._proc.poll()
        if self.run_dir:
            _unmount_below(self.run_dir)
            shutil.rmtree(self.run_dir, ignore_errors=True)
        if self.temporary_data and self.data_root:
            _unmount_below(self.data_root)
            shutil.rmtree(self.data_root, ignore_errors=True)
        if self._lock is not None:
            self._lock.close()
            self._lock = None
        self.pid = None

    def _wait_gone(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            if self._proc is not None:
                self._proc.poll()
            if not self.alive():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)


def _unmount_below(path: str) -> None:
    """Detach what dockerd left mounted under ``path`` once it is gone: a container with
    network_mode host leaves the host's network namespace bound at exec/netns/default,
    and rmtree cannot remove a mount point."""
    root = os.path.realpath(path) + os.sep
    try:
        with open("/proc/self/mountinfo") as handle:
            points = [line.split()[4].replace("\\040", " ") for line in handle]
    except OSError:
        return
    umount = _sbin_which("umount")
    if not umount:
        return
    for point in sorted((p for p in points if p.startswith(root)), key=len, reverse=True):
        subprocess.run([umount, "--lazy", point], capture_output=True, check=False, timeout=30)


def _running_engine() -> str | None:
    """Address of an engine that already answers: DOCKER_HOST, then the system socket."""
    candidates = []
    if os.environ.get("DOCKER_HOST"):
        candidates.append(os.environ["DOCKER_HOST"])
    candidates.append("unix://" + SYSTEM_SOCKET)
    for url in candidates:
        if ping(url):
            return url
    return None


def _tail(path, lines: int = 15) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return "(no log: %s)" % exc


def _data_root() -> tuple[str, bool, object | None]:
    """(data root, temporary?, lock). The cached data root keeps the imported base
    image between runs; a second test session at the same time gets a temporary one,
    because two daemons must never share a data root."""
    base = cache_dir()
    base.mkdir(parents=True, exist_ok=True)
    lock = open(base / "docker-data.lock", "a")
    try:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock.close()
        return tempfile.mkdtemp(prefix="caretaker-docker-data-", dir="/var/tmp"), True, None
    root = base / "docker-data"
    root.mkdir(mode=0o700, exist_ok=True)
    return str(root), False, lock


def start_engine(own: bool = False, fresh: bool = False) -> Engine:
    """An engine to test with. Uses a running one unless ``own`` (or ``fresh``); else
    starts dockerd. With ``fresh`` the dockerd gets an empty temporary data root of its
    own, removed by stop(), for tests that must see nothing but what they make (the base
    image is then imported from the cached tarball). Raises DockerUnavailable (with the
    reason) when docker cannot run here."""
    if not (own or fresh):
        url = _running_engine()
        if url:
            return Engine(url)
    dockerd = _sbin_which("dockerd")
    if not dockerd:
        raise DockerUnavailable("dockerd not found: install the Debian package docker.io")
    if os.geteuid() != 0:
        raise DockerUnavailable("no Docker engine answers at DOCKER_HOST or %s, and starting dockerd needs root"
                                % SYSTEM_SOCKET)
    # Short path: containerd's sockets live under the exec root and must fit in 108 bytes.
    run_dir = tempfile.mkdtemp(prefix="caretaker-docker-", dir="/tmp")
    if fresh:
        data_root, temporary, lock = tempfile.mkdtemp(prefix="caretaker-docker-data-", dir="/var/tmp"), True, None
    else:
        data_root, temporary, lock = _data_root()
    socket_path = os.path.join(run_dir, "docker.sock")
    log = os.path.join(run_dir, "dockerd.log")
    config = os.path.join(run_dir, "daemon.json")
    with open(config, "w") as handle:
        handle.write("{}\n")  # ignore /etc/docker/daemon.json: its hosts or bridge would clash
    argv = [
        dockerd, "--config-file", config,
        "--bridge=none", "--iptables=false", "--ip6tables=false",
        "--data-root", data_root, "--exec-root", os.path.join(run_dir, "exec"),
        "--pidfile", os.path.join(run_dir, "docker.pid"),
        "--host", "unix://" + socket_path,
    ]
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, cwd=run_dir)
    engine = Engine("unix://" + socket_path, proc.pid, run_dir, data_root, temporary, lock, log)
    engine._proc = proc
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            reason = "exited with status %d" % proc.returncode
            break
        if ping(engine.base_url):
            return engine
        time.sleep(0.2)
    else:
        reason = "did not answer within %ds" % READY_TIMEOUT
    tail = _tail(log)
    engine.stop(timeout=10)
    raise DockerUnavailable("dockerd %s; its log:\n%s" % (reason, tail))


# --- the base image -------------------------------------------------------------------


def debian_mirror() -> str:
    """CARETAKER_DEBIAN_MIRROR, else the first Debian mirror in this host's apt sources
    that serves a release (not -security or -updates), else deb.debian.org."""
    if os.environ.get("CARETAKER_DEBIAN_MIRROR"):
        return os.environ["CARETAKER_DEBIAN_MIRROR"]
    sources = [Path("/etc/apt/sources.list")] + sorted(Path("/etc/apt/sources.list.d").glob("*"))
    for path in sources:
        if path.suffix not in (".list", ".sources"):
            continue
        try:
            text = path.read_text()
        except OSError:
            continue
        if path.suffix == ".list":
            for line in text.splitlines():
                match = re.match(r"^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+([a-z]+)\s", line)
                if match and "/debian" in match.group(1) and "security" not in match.group(1):
                    return match.group(1)
        else:
            for stanza in re.split(r"\n\s*\n", text):
                fields = dict(re.findall(r"^([A-Za-z-]+):\s*(.*)$", stanza, re.M))
                uris, suites = fields.get("URIs", "").split(), fields.get("Suites", "").split()
                if any("-" not in suite for suite in suites) and fields.get("Types", "deb").split()[0] == "deb":
                    for uri in uris:
                        if "/debian" in uri and "security" not in uri:
                            return uri
    return DEFAULT_MIRROR


class ImageRecipe:
    """What goes into one image: Debian packages, Python wheels from PyPI for libraries
    Debian's are too old for, files copied in. Its tag is a hash of all of it and the
    recipe version, so a change rebuilds the cached tarball."""

    def __init__(self, repository: str, packages, version: int, wheels=(), files=()):
        self.repository = repository
        self.packages = tuple(packages)
        self.version = version
        self.wheels = tuple(wheels)
        self.files = tuple(files)  # (source path, path in the rootfs, mode)

    def tag(self) -> str:
        recipe = {"suite": SUITE, "variant": "minbase", "packages": sorted(self.packages), "recipe": self.version}
        # Only when present, so the base image keeps the tag (and cached tarball) it always had.
        if self.wheels:
            recipe["wheels"] = sorted(self.wheels)
        if self.files:
            recipe["files"] = [[hashlib.sha256(Path(source).read_bytes()).hexdigest(), target, mode]
                               for source, target, mode in self.files]
        digest = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]
        return "%s:%s" % (self.repository, digest)

    def tarball(self) -> Path:
        return cache_dir() / "images" / ("%s-%s.tar" % (self.repository, self.tag().split(":", 1)[1]))


BASE_IMAGE = ImageRecipe(IMAGE_REPOSITORY, BASE_PACKAGES, IMAGE_RECIPE)


def image_tag() -> str:
    return BASE_IMAGE.tag()


def rootfs_tarball() -> Path:
    # The base image's tarball keeps its old name (no repository prefix) so caches carry over.
    return cache_dir() / "images" / ("%s.tar" % image_tag().split(":", 1)[1])


# Left out of the image: package caches, apt lists, documentation. Containers have no
# network, so apt could not use the lists anyway.
_TRIM = ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man",
         "usr/share/locale", "usr/share/info")
# Where Debian's python3 looks first for libraries not from a Debian package.
ROOTFS_SITE_PACKAGES = "usr/local/lib/python3.11/dist-packages"


def build_rootfs(tarball: Path, mirror: str | None = None, recipe: ImageRecipe = BASE_IMAGE) -> Path:
    """debootstrap the rootfs and write it as a tarball (atomically) to ``tarball``."""
    debootstrap = _sbin_which("debootstrap")
    if not debootstrap:
        raise DockerUnavailable("debootstrap not found: install the Debian package debootstrap")
    if os.geteuid() != 0:
        raise DockerUnavailable("building the base image with debootstrap needs root")
    mirror = mirror or debian_mirror()
    tarball.parent.mkdir(parents=True, exist_ok=True)
    work = tempfile.mkdtemp(prefix="caretaker-rootfs-", dir="/var/tmp")
    try:
        root = os.path.join(work, "rootfs")
        log = os.path.join(work, "debootstrap.log")
        with open(log, "wb") as out:
            result = subprocess.run(
                [debootstrap, "--variant=minbase", "--include=" + ",".join(recipe.packages), SUITE, root, mirror],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, check=False, timeout=1800)
        if result.returncode != 0:
            raise RuntimeError("debootstrap %s from %s failed (%d):\n%s" % (SUITE, mirror, result.returncode, _tail(log)))
        for part in _TRIM:
            target = os.path.join(root, part)
            if os.path.isdir(target):
                shutil.rmtree(target)
                os.mkdir(target)
        if recipe.wheels:
            _install_wheels(recipe.wheels, os.path.join(root, ROOTFS_SITE_PACKAGES))
        for source, target, mode in recipe.files:
            destination = os.path.join(root, target.lstrip("/"))
            os.makedirs(os.path.dirname(destination), exist_ok=True)
            shutil.copyfile(source, destination)
            os.chmod(destination, mode)
        partial = tarball.with_name(tarball.name + ".partial")
        subprocess.run(["tar", "--numeric-owner", "-C", root, "-cf", str(partial), "."], check=True,
                       capture_output=True, timeout=600)
        os.replace(partial, tarball)
        return tarball
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _install_wheels(wheels, target: str) -> None:
    """pip-install manylinux wheels for the rootfs's CPython 3.11 into ``target`` (the
    containers have no network, so this happens at build time, from PyPI)."""
    argv = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "--target", target, "--only-binary=:all:", "--implementation", "cp", "--python-version", "3.11",
            "--platform", "manylinux2014_x86_64", "--platform", "manylinux_2_28_x86_64",
            "--platform", "manylinux_2_17_x86_64"] + list(wheels)
    result = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=600)
    if result.returncode != 0:
        raise RuntimeError("pip install of %s into the rootfs failed (%d):\n%s"
                           % (" ".join(wheels), result.returncode, result.stderr[-2000:]))


def ensure_base_image(engine: Engine, recipe: ImageRecipe = BASE_IMAGE) -> str:
    """Tag of the image in ``engine``: already there, imported from the cached
    tarball, or built first (under a lock, so parallel sessions build it once)."""
    tag = recipe.tag()
    client = engine.client(timeout=600)
    try:
        if _has_image(client, tag):
            return tag
        tarball = rootfs_tarball() if recipe is BASE_IMAGE else recipe.tarball()
        tarball.parent.mkdir(parents=True, exist_ok=True)
        with open(tarball.with_name(tarball.name + ".lock"), "a") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            if not tarball.exists():
                build_rootfs(tarball, recipe=recipe)
            if not _has_image(client, tag):
                repository, name = tag.split(":", 1)
                client.api.import_image_from_file(str(tarball), repository=repository, tag=name)
        if not _has_image(client, tag):
            raise RuntimeError("docker import of %s did not create %s" % (tarball, tag))
        return tag
    finally:
        client.close()


# --- the host image: a maintained host with its datastores -------------------------------

HOST_REPOSITORY = "caretaker-test-host"
HOST_RECIPE = 1
HOST_PACKAGES = (
    "python3", "procps", "gzip", "zstd", "logrotate", "openssh-server",
    "postgresql", "mariadb-server", "mariadb-client", "redis-server",
    "python3-psycopg2", "python3-pymysql", "python3-redis", "python3-pymongo",
    "python3-zstandard", "python3-cryptography",
    # debootstrap does not resolve virtual packages: the cffi backend python3-cryptography needs.
    "python3-cffi-backend",
)
# Libraries the modules need newer than bookworm has (zstandard 0.20, pymongo 3.11,
# redis 4.3), and pyrage, which Debian does not package: the floors of requirements.txt.
# No MongoDB server installs from Debian: nx-27017 (requirements-dev.txt), the MongoDB
# wire-protocol server over SQLite the tests use, stands in for it.
HOST_WHEELS = ("pyrage", "zstandard", "pymongo", "redis", "nx-27017")
HOST_ENTRYPOINT = "/usr/local/sbin/caretaker-host"
HOST_IMAGE_LATEST = HOST_REPOSITORY + ":latest"


def _requirement(name: str) -> str:
    """The line of requirements.txt or requirements-dev.txt naming ``name`` (e.g. 'zstandard>=0.22')."""
    root = Path(__file__).resolve().parents[2]
    for path in (root / "requirements.txt", root / "requirements-dev.txt"):
        for line in path.read_text().splitlines():
            spec = line.split("#", 1)[0].strip()
            if re.match(r"^%s\b" % re.escape(name), spec, re.I):
                return spec
    return name


def host_recipe() -> ImageRecipe:
    entrypoint = Path(__file__).with_name("host_entrypoint.sh")
    return ImageRecipe(HOST_REPOSITORY, HOST_PACKAGES, HOST_RECIPE,
                       wheels=[_requirement(name) for name in HOST_WHEELS],
                       files=[(str(entrypoint), HOST_ENTRYPOINT, 0o755)])


def ensure_host_image(engine: Engine) -> str:
    """Tag of the host image: bookworm with PostgreSQL 15, MariaDB, Redis, nx-27017 (MongoDB), logrotate and
    the Python libraries of the modules, and OpenSSH's server (not started: a benchmark speaks
    SSH to it through ``docker exec -i NAME /usr/sbin/sshd -i``). Its entrypoint (HOST_ENTRYPOINT) starts the
    servers named in its arguments or in CARETAKER_SERVICES on loopback, then waits.
    It is also tagged HOST_IMAGE_LATEST, the default image of the molecule scenarios."""
    tag = ensure_base_image(engine, host_recipe())
    client = engine.client()
    try:
        repository, name = HOST_IMAGE_LATEST.split(":", 1)
        client.images.get(tag).tag(repository, name)
    finally:
        client.close()
    return tag


def _has_image(client, tag: str) -> bool:
    import docker
    try:
        client.images.get(tag)
        return True
    except docker.errors.ImageNotFound:
        return False


# --- containers ------------------------------------------------------------------------


def _owner_alive(value: str) -> bool:
    pid, _sep, boot = value.partition(":")
    try:
        comm = Path("/proc/%s/comm" % int(pid)).read_text().strip()
    except (OSError, ValueError):
        return False
    return boot == _process_start(int(pid)) and bool(comm)


def _process_start(pid: int) -> str:
    try:
        return Path("/proc/%d/stat" % pid).read_text().rpartition(")")[2].split()[19]
    except (OSError, IndexError):
        return ""


class Containers:
    """Containers made for one test session, all labelled with our process; removed
    (those, and only those) by remove_all() or at the end of a with block."""

    def __init__(self, engine: Engine, image: str, prefix: str | None = None):
        self.engine = engine
        self.image = image
        self.prefix = prefix if prefix is not None else "ct%s-" % uuid.uuid4().hex[:6]
        self.owner = "%d:%s" % (os.getpid(), _process_start(os.getpid()))
        self.client = engine.client()
        self.made = []

    def __enter__(self):
        self.remove_leftovers()
        return self

    def __exit__(self, *exc):
        self.remove_all()
        self.client.close()

    def name(self, short: str) -> str:
        return self.prefix + short

    def remove_leftovers(self) -> int:
        """Remove containers of earlier test runs whose process is gone."""
        removed = 0
        for container in self.client.containers.list(all=True, filters={"label": OWNER_LABEL}):
            if not _owner_alive(container.labels.get(OWNER_LABEL, "")):
                self._remove(container)
                removed += 1
        return removed

    def run(self, short: str, command, prefixed: bool = True, labels=None, start: bool = True, **kwargs):
        """Create (and start) a container named prefix+short (or short) with no network."""
        name = self.name(short) if prefixed else short
        options = dict(image=self.image, command=command, name=name, network_mode="none", detach=True,
                       labels=dict(labels or {}, **{OWNER_LABEL: self.owner}), **kwargs)
        if start:
            container = self.client.containers.run(**options)
        else:
            options.pop("detach")
            container = self.client.containers.create(**options)
        self.made.append(container)
        return container

    def owns(self, name: str) -> bool:
        """True when a container of that name exists and was made by this session."""
        import docker
        try:
            container = self.client.containers.get(name)
        except docker.errors.NotFound:
            return False
        return container.labels.get(OWNER_LABEL) == self.owner

    def exists(self, name: str) -> bool:
        import docker
        try:
            self.client.containers.get(name)
            return True
        except docker.errors.NotFound:
            return False

    def _remove(self, container) -> None:
        import docker
        with contextlib.suppress(docker.errors.NotFound):
            container.reload()
            if container.status == "paused":
                container.unpause()
            container.remove(force=True, v=True)

    def remove_all(self) -> None:
        while self.made:
            self._remove(self.made.pop())


def wait_for(predicate, timeout: float = 30, interval: float = 0.2, what: str = "condition"):
    """Poll until predicate() returns something true; return it or raise."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError("%s not reached within %ss" % (what, timeout))
        time.sleep(interval)


def main(argv=None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    images = {"image": ensure_base_image, "host-image": ensure_host_image}
    if len(args) != 1 or args[0] not in images:
        print("usage: python -m tests.support.docker_engine image|host-image", file=sys.stderr)
        return 2
    try:
        engine = start_engine()
    except DockerUnavailable as exc:
        print("docker cannot run here: %s" % exc, file=sys.stderr)
        return 1
    try:
        print(images[args[0]](engine))
    finally:
        engine.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
