# A stand-in for the public `prom/prometheus:v2.42.0` image, for machines that cannot pull
# it: Debian's prometheus package (2.42.0) on the local debian:bookworm-slim, laid out as
# the public image is: /bin/prometheus as the entrypoint, the config in
# /etc/prometheus/prometheus.yml, the TSDB in /prometheus, run as nobody.
# Built by docker/build-base-images.sh.
FROM debian:bookworm-slim
# The package's postinst registers man pages, which the slim image leaves out.
RUN mkdir -p /usr/share/man/man1 \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /prometheus \
 && chown nobody:nogroup /prometheus
USER nobody
VOLUME ["/prometheus"]
WORKDIR /prometheus
EXPOSE 9090
ENTRYPOINT ["/usr/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus", \
     "--web.console.libraries=/usr/share/prometheus/console_libraries", \
     "--web.console.templates=/usr/share/prometheus/consoles"]
