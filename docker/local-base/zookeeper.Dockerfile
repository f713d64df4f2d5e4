# A stand-in for the public `zookeeper:3.8` image, for machines that cannot pull it:
# Debian's zookeeper package (3.8) on the local debian:bookworm-slim, with the public
# image's layout (/conf, /data, /datalog, /logs), its ZOO_* variables, its entrypoint
# behaviour and `zkServer.sh` / `zkCli.sh` on PATH. Built by docker/build-base-images.sh.
FROM debian:bookworm-slim
# openjdk's postinst registers man pages, which the slim image leaves out.
RUN mkdir -p /usr/share/man/man1 \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        zookeeper default-jre-headless libslf4j-java netcat-openbsd \
 && rm -rf /var/lib/apt/lists/*
ENV ZOO_CONF_DIR=/conf \
    ZOO_DATA_DIR=/data \
    ZOO_DATA_LOG_DIR=/datalog \
    ZOO_LOG_DIR=/logs \
    ZOO_TICK_TIME=2000 \
    ZOO_INIT_LIMIT=5 \
    ZOO_SYNC_LIMIT=2 \
    ZOO_AUTOPURGE_PURGEINTERVAL=0 \
    ZOO_AUTOPURGE_SNAPRETAINCOUNT=3 \
    ZOO_MAX_CLIENT_CNXNS=60 \
    ZOO_STANDALONE_ENABLED=true \
    ZOO_ADMINSERVER_ENABLED=true \
    ZOOCFGDIR=/conf
RUN mkdir -p /conf /data /datalog /logs \
 && chown zookeeper /conf /data /datalog /logs
COPY zkServer.sh zkCli.sh /usr/local/bin/
COPY zookeeper-entrypoint.sh /docker-entrypoint.sh
VOLUME ["/data", "/datalog", "/logs"]
EXPOSE 2181 2888 3888 8080
ENTRYPOINT ["/docker-entrypoint.sh"]
CMD ["zkServer.sh", "start-foreground"]
