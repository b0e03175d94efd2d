# otserve container: build on Debian 12 with the project's own scripts, run on a
# slim Debian 12 with only the runtime libraries.
FROM debian:bookworm AS build
WORKDIR /src
COPY . .
RUN ./scripts/install-deps.sh \
 && cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DOTSERVE_BUILD_TESTS=OFF \
      -DOTSERVE_ARCH=x86-64-v3 \
 && cmake --build build --target otserve otctl

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgrpc++1.51 libprotobuf32 \
      libabsl20220623 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 otserve
COPY --from=build /src/build/otserve /src/build/otctl /usr/local/bin/
USER otserve
# Few malloc arenas: with many gRPC and worker threads the default kept freed
# request memory resident (overload peak RSS 528 MB vs up to 643 MB at a 512 MB
# budget, bench/overload.py).
ENV MALLOC_ARENA_MAX=2
EXPOSE 50051
# Kubernetes probes use the standard grpc.health.v1 service on this port.
ENTRYPOINT ["/usr/local/bin/otserve", "--listen=0.0.0.0:50051"]
