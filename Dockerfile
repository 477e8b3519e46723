# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# Three stages (docs/cli.md "Runtime image"):
#
#   docker build --target runtime -t oxmigrate .
#       debian:bookworm-slim with Debian's nginx and the two packages of
#       `make deb` (libnginx-mod-http-oxmigrate, oxmigrate-tools); no
#       compilers.  Configured from the environment by the entrypoint:
#       docker run -e OXM_ROLE=primary -e OXM_SERVERS=oxserver-old ... oxmigrate
#
#   docker build -t oxmigrate-test .       (the last stage, "test", as before)
#       the tested path in a clean Debian 12: the same scripts as `make test`
#       (scripts/deps.sh, scripts/build.sh, t/run.sh), run as root as CI
#       does; builds and runs every test.
#       docker run --rm -it oxmigrate-test make demo
#
# The "deb" stage builds the packages with dpkg-buildpackage (debian/).
# "test" comes last so that a build of "runtime" never runs it, with
# BuildKit or with the classic builder (which builds every stage up to the
# target).

# ------------------------------------------------------------ deb
FROM debian:bookworm AS deb

ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8

# the Build-Depends of debian/control
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential debhelper \
       dpkg-dev fakeroot nginx nginx-dev libmariadb-dev libhiredis-dev \
       libyajl-dev libcurl4-openssl-dev \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY . .
RUN rm -rf build build-* demo-run && scripts/deb.sh /debs

# ------------------------------------------------------------ runtime
FROM debian:bookworm-slim AS runtime

ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8

COPY --from=deb /debs/libnginx-mod-http-oxmigrate_*.deb /debs/oxmigrate-tools_*.deb /tmp/debs/
# Debian's nginx; envsubst (gettext-base) for the templates; the packages
# enable the module through /etc/nginx/modules-enabled
RUN apt-get update \
    && apt-get install -y --no-install-recommends nginx gettext-base \
       /tmp/debs/*.deb \
    && rm -rf /var/lib/apt/lists/* /tmp/debs \
    && ln -sf /dev/stdout /var/log/nginx/access.log \
    && ln -sf /dev/stderr /var/log/nginx/error.log \
    && ! command -v cc && ! command -v gcc

COPY docker/templates/ /etc/oxmigrate/templates/
COPY docker/entrypoint.sh /usr/local/bin/oxmigrate-entrypoint
ENV PATH=/usr/lib/oxmigrate/bin:$PATH

EXPOSE 80 8080 9145
STOPSIGNAL SIGQUIT
ENTRYPOINT ["/usr/local/bin/oxmigrate-entrypoint"]
CMD ["nginx", "-g", "daemon off;"]

# ------------------------------------------------------------ test
FROM debian:bookworm AS test

ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8

WORKDIR /src

# dependencies first: this layer survives source changes
COPY scripts/deps.sh scripts/deps.sh
RUN scripts/deps.sh && rm -rf /var/lib/apt/lists/*

COPY . .
# build trees of the host were configured for the host's paths
RUN rm -rf build build-* demo-run

RUN make test

CMD ["make", "test"]
