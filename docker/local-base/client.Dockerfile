# The Docker test's client on the compose network: kcat from Debian's packages.
# Built by docker/build-base-images.sh; not part of what a user runs.
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends kcat \
 && rm -rf /var/lib/apt/lists/*
ENTRYPOINT ["kcat"]
