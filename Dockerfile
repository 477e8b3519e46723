# The tested path in a clean Debian 12: the same scripts as `make test`
# (scripts/deps.sh, scripts/build.sh, t/run.sh), run as root as CI does.
#   docker build -t oxmigrate .        builds and runs every test
#   docker run --rm -it oxmigrate make demo
FROM debian:bookworm

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
