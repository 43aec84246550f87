// SecretsManager: runguardd's side of the Vault leases behind containers' secret files
// (docs/agent.md#secrets, secrets/include/runguard/secrets/files.h).
//
// What it keeps, per container:
//   - *pending*: leases a `secrets.fetch` handed out (note_fetch) whose `secrets.attached` has
//     not arrived. Once the record names them they are managed; when `attached` comes, pending
//     leases the record does not name (the runtime gave up on this fetch and used another) are
//     revoked; so are all of them when `attached` never comes within `pending_grace` (the
//     create failed or was killed), or when the container is deleted first.
//   - *managed*: containers whose `<state_dir>/<id>/secrets.json` (SecretsRecord) the manager
//     read: after `attached`, at start (scan), and on policy reload (request_scan). A scanned
//     record that names no lease and is younger than `pending_grace` may belong to a create
//     still writing it (the runtime writes it before the fetch and again with the leases): it
//     is managed once `attached` comes or once it is that old, never written to before. The
//     manager renews
//     each renewable lease once 2/3 of its duration has passed since it was obtained or last
//     renewed (increment: the duration it was first granted), writes the new durations back to
//     the record, and with `refresh` > 0 re-fetches the container's "annotation"/"attach" files
//     every refresh interval (not "env" ones: those values came from the container's own spec),
//     writes them into the record's dir (write_secret_files: atomic per file, the record's
//     uid/gid), updates the record, then revokes the leases they replaced. A lease whose renewal
//     fails because Vault no longer knows it (kNotFound, kInvalidArgument), or that Vault
//     renewed for less than its increment (max TTL reached), is re-fetched when refresh is on;
//     otherwise it is logged as expired and left alone. Other failures are logged, counted and
//     retried on the next tick. A container whose record disappears (its delete ran), or that
//     drop() names, is forgotten; `secrets.revoke` (revoke()) revokes and forgets it.
//
// Work happens on the manager's own thread, one tick every `tick`: at most
// `max_calls_per_tick` SecretSource calls (renewals first, then refreshes, then revocations),
// the rest waits for the next tick. Leases renewed in a restarted agent's first ticks are
// those it cannot date (a record found by a scan is renewed at once: renewing early is
// harmless, late is not). After a restart the pending leases are gone (they are in no record);
// they expire with their TTL.
//
// Never logged, counted or returned: a value, a token, a JWT. Log lines name the container, the
// file name, the reference and the record's path; metrics carry only a result label
// (docs/agent.md#metrics): runguard_secret_leases, runguard_secret_lease_renewals_total,
// runguard_secret_refreshes_total, runguard_secret_revocations_total (one count per lease).
//
// The SecretSource (configure) may be null: backend is not vault; the manager then keeps its
// state and calls nothing.
//
// Thread-safety: every method may be called from any thread; tick() runs one pass at a time.
// revoke() calls the source and blocks: call it from a worker, never the socket loop.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "log.h"
#include "runguard/agent/metrics.h"
#include "runguard/common/status.h"
#include "runguard/secrets/files.h"
#include "runguard/secrets/source.h"
#include "runguard/secrets/wire.h"

namespace runguard::agent {

using SecretsClock = std::function<std::chrono::steady_clock::time_point()>;

struct SecretsManagerOptions {
  std::string state_dir;                              // the runtime's stateDir
  std::chrono::milliseconds tick{1000};               // the thread's period
  std::chrono::milliseconds pending_grace{120000};    // fetch -> attached, else revoked
  size_t max_calls_per_tick = 32;                     // SecretSource calls per tick
  size_t max_pending = 1024;                          // more: the oldest is revoked early
  int max_revoke_attempts = 3;                        // then the leases are left to their TTL
  SecretsClock clock;                                 // empty: steady_clock::now
};

class SecretsManager {
 public:
  // `metrics` and `log` must outlive the manager.
  SecretsManager(SecretsManagerOptions options, Metrics& metrics, const Logger& log);
  ~SecretsManager();
  SecretsManager(const SecretsManager&) = delete;
  SecretsManager& operator=(const SecretsManager&) = delete;

  // Starts the tick thread; stop() joins it (a call in progress finishes first). Idempotent.
  void start();
  void stop();

  // The source every fetch, renewal, refresh and revocation uses (null: idle) and the refresh
  // interval (<= 0: off). In-flight calls keep the source they started with.
  void configure(std::shared_ptr<secrets::SecretSource> source, std::chrono::milliseconds refresh);
  std::shared_ptr<secrets::SecretSource> source() const;

  // `secrets.fetch` handed out `got` for `request.container`: its leases are pending.
  void note_fetch(const secrets::FetchRequest& request, const std::vector<secrets::FetchedSecret>& got);
  // `secrets.attached`: the record is read on the next tick (the thread is woken).
  void attached(const std::string& container);
  // The container is gone (`deleted`): forgotten; its pending leases are revoked.
  void drop(const std::string& container);
  // `secrets.revoke`: revokes `r.leases` plus every lease the manager holds for the container
  // (managed or pending), and forgets it; waits for a refresh writing its files to finish, so
  // nothing is written after the reply. Returns how many leases were revoked. When the source
  // fails, the leases are queued and retried by later ticks. kInvalidArgument with no source.
  Result<size_t> revoke(const secrets::RevokeRequest& r);
  // Reads `<state_dir>/*/secrets.json` now (start) / on the next tick (reload).
  void scan();
  void request_scan();

  // One pass (the thread's body; tests call it with an injected clock).
  void tick();

  struct Stats {
    size_t managed = 0, leases = 0, pending = 0, queued_revocations = 0;
  };
  Stats stats() const;
  bool is_managed(const std::string& container) const;

 private:
  using Clock = std::chrono::steady_clock;
  struct LeaseTimes {
    Clock::time_point granted_at;  // obtained or last renewed
    Clock::time_point retry_at;    // after a failed renewal
    int64_t increment = 0;         // seconds asked for at renewal
    int failures = 0;              // renewals failed in a row (logged once, then at debug)
    bool expired = false;          // gone, refresh off: no more renewals
  };
  struct Container {
    secrets::SecretsRecord record;
    std::map<std::string, LeaseTimes> leases;  // by lease id
    Clock::time_point refreshed_at;            // adopted or last refreshed
    Clock::time_point refresh_retry_at;        // after a failed refresh
    bool refresh_now = false;                  // a lease is gone or capped: re-fetch next
    bool record_dirty = false;                 // durations changed; write_dirty_records
    std::vector<std::string> superseded;       // replaced by a refresh; revoked once the record is written
  };
  struct Pending {
    std::map<std::string, int64_t> leases;  // lease id -> duration
    std::string kubernetes_token_file;
    Clock::time_point at;
  };
  struct Revocation {
    secrets::RevokeRequest request;
    int attempts = 0;
  };
  struct Renewal {
    std::string container, lease_id, file, ref, token_file;
    int64_t increment = 0;
  };

  Clock::time_point now() const;
  void loop();
  // tick() steps (secrets_manager.cc, secrets_refresh.cc).
  void take_attached(Clock::time_point now);
  void confirm_scanned(Clock::time_point now);  // unconfirmed_ records now settled
  // A scanned record is final: it names a lease, or is older than pending_grace.
  bool settled(const std::string& id, const secrets::SecretsRecord& rec) const;
  void adopt(const std::string& id, secrets::SecretsRecord record, bool attached, Clock::time_point now);
  void expire_pending(Clock::time_point now);
  void forget_vanished();
  std::vector<Renewal> due_renewals(Clock::time_point now, size_t budget);
  void renew(secrets::SecretSource& source, const Renewal& r);
  // Renews the logins that hold managed leases at 2/3 of their TTL (Vault revokes a token's
  // leases when it expires); a failure is a warning once per container, then debug.
  void keep_logins_alive(secrets::SecretSource& source);
  std::vector<std::string> due_refreshes(Clock::time_point now, size_t budget);
  void refresh(secrets::SecretSource& source, const std::string& id);
  // Writes the fetched files one by one, then moves the record to the leases of the files
  // written; returns how many were written. Leases that back no file are queued for revocation.
  size_t apply_refresh(const std::string& id, const secrets::SecretsRecord& rec, std::vector<secrets::FetchedSecret>& got);
  void run_revocations(secrets::SecretSource& source, size_t budget);
  void write_dirty_records();
  // Writes `id`'s record with writing_ set (revoke() waits for it); false when it is gone.
  bool write_record(const std::string& id);
  void queue_revocation(secrets::RevokeRequest r);  // mu_ held
  // Forgets a managed container (mu_ held); its superseded leases are still revoked.
  void forget(std::map<std::string, Container>::iterator it);
  void update_gauge();                                // mu_ held
  std::string container_dir(const std::string& id) const { return options_.state_dir + "/" + id; }

  SecretsManagerOptions options_;
  Metrics& metrics_;
  const Logger& log_;

  mutable std::mutex mu_;  // everything below
  std::shared_ptr<secrets::SecretSource> source_;
  std::chrono::milliseconds refresh_{0};
  std::map<std::string, Container> managed_;
  std::set<std::string> login_failing_;  // containers whose login keep-alive failed (tick thread only)
  std::map<std::string, Pending> pending_;
  std::set<std::string> attach_queue_;
  std::set<std::string> unconfirmed_;  // scanned records a create may still be writing
  // Containers revoked or deleted in the last pending_grace: a scan must not take them up again
  // from a record their delete has not removed yet (an `attached` may: the id was reused).
  std::map<std::string, Clock::time_point> released_;
  std::deque<Revocation> revocations_;
  bool scan_requested_ = false;
  std::string writing_;  // the container whose files a refresh is writing ("" none)
  std::condition_variable written_;

  std::mutex tick_mu_;  // one tick at a time
  std::mutex loop_mu_;
  std::condition_variable loop_cv_;
  std::atomic<bool> stopping_{false};  // also read by tick() between calls
  bool wake_ = false;
  std::thread thread_;
};

}  // namespace runguard::agent
