# Ferry's container image: one image for the four services and the `ferry` command.
# Build from the repository root: docker build -t ferry:0.1.0 .

# The builder installs Ferry and its dependencies into a virtualenv that the runtime copies.
FROM python:3.11-slim-bookworm AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
# .dockerignore lets only pyproject.toml, README.md, services/, protos/ and tools/ through.
COPY . .
RUN pip install .


FROM python:3.11-slim-bookworm AS runtime

# yt-dlp needs ffmpeg to merge separate video and audio streams; the importer runs ffprobe.
RUN apt-get update \
    && apt-get install --yes --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --gid 10001 ferry \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin ferry

COPY --from=builder /opt/venv /opt/venv

# The root filesystem is read-only in Kubernetes, so caches go to the /tmp emptyDir.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    XDG_CACHE_HOME=/tmp/cache

WORKDIR /work
USER 10001:10001

ENTRYPOINT ["ferry"]
CMD ["--help"]
