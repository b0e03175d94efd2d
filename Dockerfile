# otserve container: build on Debian 12 with the project's own scripts, run on a
# slim Debian 12 with only the runtime libraries, as a numeric non-root user.
#   podman build -t otserve .                          (x86-64-v3: AVX2 hosts)
#   podman build --build-arg OTSERVE_ARCH=x86-64 ...   (any x86-64)
# scripts/container-test.sh builds it and runs it read-only as non-root.
ARG BASE=debian:bookworm
ARG RUNTIME_BASE=debian:bookworm-slim

FROM ${BASE} AS build
WORKDIR /src
# Dependencies first: an edit to the sources does not reinstall packages.
COPY scripts/install-deps.sh scripts/
RUN ./scripts/install-deps.sh --build \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
COPY CMakeLists.txt ./
COPY proto/ proto/
COPY core/ core/
COPY server/ server/
COPY client/ client/
ARG OTSERVE_ARCH=x86-64-v3
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DOTSERVE_BUILD_TESTS=OFF \
      -DOTSERVE_ARCH=${OTSERVE_ARCH} \
 && cmake --build build --target otserve otctl \
 && strip build/otserve build/otctl

FROM ${RUNTIME_BASE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgrpc++1.51 libgrpc29 \
      libprotobuf32 libabsl20220623 libcpp-httplib0.11 ca-certificates \
 && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
COPY --from=build /src/build/otserve /src/build/otctl /usr/local/bin/
# A numeric user, so that Kubernetes' runAsNonRoot can verify it.
USER 10001:10001
# Few malloc arenas: with many gRPC and worker threads the default kept freed
# request memory resident (bench/overload.py).
ENV MALLOC_ARENA_MAX=2
EXPOSE 50051 9464
# otctl info answers while the server serves (with --auth_tokens, run the server
# with --public_server_info or set OTSERVE_TOKEN for the check).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/otctl", "info", "--server", "127.0.0.1:50051", "--timeout", "4"]
# --threads=0 (the default) follows the container's CPU quota.
ENTRYPOINT ["/usr/local/bin/otserve", "--listen=0.0.0.0:50051"]
