// Metric registry, exposition rendering and request-log lines.
#include "server/metrics.h"

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <fstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"

namespace otserve {
namespace {

// gRPC's names (OK, INVALID_ARGUMENT, ...), as clients see them.
std::string CodeName(absl::StatusCode code) {
  return absl::StatusCodeToString(code);
}

// Label values escaped per the exposition format (\\, \", \n).
std::string EscapeLabel(absl::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

template <typename Labels>
std::string LabelText(const Labels& labels, absl::string_view extra = "") {
  std::vector<std::string> parts;
  for (const auto& [k, v] : labels) {
    parts.push_back(absl::StrCat(k, "=\"", EscapeLabel(v), "\""));
  }
  if (!extra.empty()) parts.emplace_back(extra);
  if (parts.empty()) return "";
  return absl::StrCat("{", absl::StrJoin(parts, ","), "}");
}

// The shortest decimal that reads back as `v` (0.0005, not 0.00050000000001).
std::string Number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::abs(v) < 1e15)
    return absl::StrFormat("%.0f", v);
  for (int precision = 1; precision < 17; ++precision) {
    std::string text = absl::StrFormat("%.*g", precision, v);
    if (std::strtod(text.c_str(), nullptr) == v) return text;
  }
  return absl::StrFormat("%.17g", v);
}

double ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  double pages = 0, resident = 0;
  if (!(statm >> pages >> resident)) return 0;
  return resident * static_cast<double>(sysconf(_SC_PAGESIZE));
}

// A JSON string literal.
std::string Json(absl::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

}  // namespace

bool ParseLogFormat(absl::string_view text, LogFormat* format) {
  if (text == "json") {
    *format = LogFormat::kJson;
  } else if (text == "text") {
    *format = LogFormat::kText;
  } else if (text == "none") {
    *format = LogFormat::kNone;
  } else {
    return false;
  }
  return true;
}

std::string FormatLogLine(const JobRecord& r, LogFormat format) {
  const std::string time =
      absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", r.time, absl::UTCTimeZone());
  const std::string code = CodeName(r.code);
  if (format == LogFormat::kJson) {
    std::string line =
        absl::StrCat("{\"time\":", Json(time), ",\"tenant\":", Json(r.tenant),
                     ",\"rpc\":", Json(r.rpc), ",\"method\":", Json(r.method),
                     ",\"n\":", r.n, ",\"m\":", r.m, ",\"d\":", r.d,
                     ",\"status\":", Json(code));
    absl::StrAppend(&line, ",\"queue_seconds\":", Number(r.queue_seconds),
                    ",\"solve_seconds\":", Number(r.solve_seconds),
                    ",\"total_seconds\":", Number(r.total_seconds),
                    ",\"iterations\":", r.iterations, ",\"converged\":",
                    r.has_result ? (r.converged ? "true" : "false") : "null",
                    ",\"bytes_in\":", r.bytes_in,
                    ",\"bytes_out\":", r.bytes_out);
    if (!r.error.empty()) absl::StrAppend(&line, ",\"error\":", Json(r.error));
    return line + "}";
  }
  std::string line = absl::StrFormat(
      "%s tenant=%s rpc=%s method=%s n=%d m=%d d=%d status=%s queue=%.6fs "
      "solve=%.6fs total=%.6fs iterations=%d converged=%s in=%dB out=%dB",
      time, r.tenant, r.rpc, r.method.empty() ? "-" : r.method, r.n, r.m, r.d,
      code, r.queue_seconds, r.solve_seconds, r.total_seconds, r.iterations,
      r.has_result ? (r.converged ? "yes" : "no") : "-", r.bytes_in,
      r.bytes_out);
  if (!r.error.empty()) absl::StrAppend(&line, " error=", Json(r.error));
  return line;
}

void Metrics::Histogram::Observe(double value) {
  size_t i = 0;
  while (i < kBuckets.size() && value > kBuckets[i]) ++i;
  ++counts[i];
  sum += value;
}

void Metrics::Record(const JobRecord& r) {
  const std::string code = CodeName(r.code);
  absl::MutexLock lock(&mu_);
  requests_[{{"rpc", r.rpc}, {"method", r.method}, {"code", code}}] += 1;
  request_seconds_[{{"rpc", r.rpc}}].Observe(r.total_seconds);
  tenant_requests_[{{"tenant", r.tenant}, {"code", code}}] += 1;
  bytes_in_ += static_cast<double>(r.bytes_in);
  bytes_out_ += static_cast<double>(r.bytes_out);
  if (!r.has_result) return;
  solve_seconds_[{{"method", r.method}}].Observe(r.solve_seconds);
  queue_seconds_.Observe(r.queue_seconds);
  iterations_[{{"method", r.method}}] += static_cast<double>(r.iterations);
  if (!r.converged) not_converged_[{{"method", r.method}}] += 1;
  tenant_solve_seconds_[{{"tenant", r.tenant}}] += r.solve_seconds;
}

std::string Metrics::Render() const {
  std::string out;
  auto header = [&out](absl::string_view name, absl::string_view type,
                       absl::string_view help) {
    absl::StrAppend(&out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ",
                    type, "\n");
  };
  auto counter = [&](absl::string_view name, absl::string_view help,
                     const std::map<Labels, double>& values) {
    header(name, "counter", help);
    for (const auto& [labels, v] : values) {
      absl::StrAppend(&out, name, LabelText(labels), " ", Number(v), "\n");
    }
  };
  auto gauge = [&](absl::string_view name, absl::string_view help, double v) {
    header(name, "gauge", help);
    absl::StrAppend(&out, name, " ", Number(v), "\n");
  };
  auto histogram = [&](absl::string_view name, absl::string_view help,
                       const std::map<Labels, Histogram>& values) {
    header(name, "histogram", help);
    for (const auto& [labels, h] : values) {
      int64_t cumulative = 0;
      for (size_t i = 0; i <= kBuckets.size(); ++i) {
        cumulative += h.counts[i];
        const std::string le = absl::StrCat(
            "le=\"", i < kBuckets.size() ? Number(kBuckets[i]) : "+Inf", "\"");
        absl::StrAppend(&out, name, "_bucket", LabelText(labels, le), " ",
                        cumulative, "\n");
      }
      absl::StrAppend(&out, name, "_sum", LabelText(labels), " ", Number(h.sum),
                      "\n", name, "_count", LabelText(labels), " ", cumulative,
                      "\n");
    }
  };
  {
    absl::MutexLock lock(&mu_);
    counter("otserve_requests_total",
            "Calls by RPC, solver method and status code (refusals too).",
            requests_);
    histogram("otserve_request_duration_seconds",
              "Seconds from a call's arrival to its response, by RPC.",
              request_seconds_);
    histogram("otserve_solve_duration_seconds",
              "Solver seconds of calls that produced a result, by method.",
              solve_seconds_);
    histogram("otserve_queue_wait_seconds",
              "Seconds a job waited for a worker.", {{{}, queue_seconds_}});
    counter("otserve_solver_iterations_total",
            "Solver iterations of results, by method.", iterations_);
    counter("otserve_not_converged_total",
            "Results that stopped before their tolerance, by method.",
            not_converged_);
    counter("otserve_tenant_requests_total", "Calls by tenant and status code.",
            tenant_requests_);
    counter("otserve_tenant_solve_seconds_total",
            "Worker seconds spent on each tenant's results.",
            tenant_solve_seconds_);
    counter("otserve_received_bytes_total", "Request bytes received.",
            {{{}, bytes_in_}});
    counter("otserve_sent_bytes_total", "Response bytes sent.",
            {{{}, bytes_out_}});
  }
  gauge("otserve_jobs_in_flight", "Jobs queued or running.",
        scheduler_->in_flight());
  gauge("otserve_jobs_queued", "Jobs waiting for a worker.",
        scheduler_->queued());
  gauge("otserve_queue_capacity", "Worker threads plus --max_queue.",
        scheduler_->capacity());
  gauge("otserve_worker_threads", "Worker threads.", scheduler_->threads());
  gauge("otserve_memory_in_flight_bytes",
        "Request and estimated working bytes of jobs in flight.",
        static_cast<double>(scheduler_->bytes_in_flight()));
  gauge("otserve_memory_budget_bytes", "The jobs' share of --max_memory_mb.",
        static_cast<double>(scheduler_->max_bytes()));
  gauge("process_resident_memory_bytes", "Resident memory of the process.",
        ResidentBytes());
  // Per GPU (--gpus): its queue and its device-memory budget.
  for (const auto& [name, help, value] :
       {std::tuple<const char*, const char*, double (*)(const Scheduler&)>{
            "otserve_gpu_jobs_in_flight", "Jobs queued or running, by GPU.",
            [](const Scheduler& s) { return double(s.in_flight()); }},
        {"otserve_gpu_jobs_queued", "Jobs waiting for a GPU stream, by GPU.",
         [](const Scheduler& s) { return double(s.queued()); }},
        {"otserve_gpu_memory_in_flight_bytes",
         "Device bytes of the jobs in flight, by GPU.",
         [](const Scheduler& s) { return double(s.bytes_in_flight()); }},
        {"otserve_gpu_memory_budget_bytes",
         "Device bytes jobs are admitted into, by GPU.",
         [](const Scheduler& s) { return double(s.max_bytes()); }}}) {
    if (gpus_.empty()) break;
    header(name, "gauge", help);
    for (const auto& [device, scheduler] : gpus_) {
      absl::StrAppend(&out, name, LabelText(Labels{{"device", device}}), " ",
                      Number(value(*scheduler)), "\n");
    }
  }
  header("otserve_tenant_jobs_in_flight", "gauge",
         "Jobs queued or running, by tenant (tenants with any).");
  const std::vector<TenantLoad> loads = scheduler_->TenantLoads();
  for (const TenantLoad& t : loads) {
    absl::StrAppend(&out, "otserve_tenant_jobs_in_flight",
                    LabelText(Labels{{"tenant", t.name}}), " ", t.jobs, "\n");
  }
  header("otserve_tenant_jobs_queued", "gauge",
         "Jobs waiting for a worker, by tenant.");
  for (const TenantLoad& t : loads) {
    absl::StrAppend(&out, "otserve_tenant_jobs_queued",
                    LabelText(Labels{{"tenant", t.name}}), " ", t.queued, "\n");
  }
  return out;
}

}  // namespace otserve
