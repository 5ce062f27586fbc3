// mpi.cpp — the MPI session and the Communicator over MPI_COMM_WORLD (mpi.h); compiled only
// in a build with MPI (meson option -Dmpi). The only file of kizuki that includes <mpi.h>.
//
// MPI counts are `int`: buffers longer than 2^30 elements travel in pieces of 2^30. MPI's
// default error handler (MPI_ERRORS_ARE_FATAL) stays: a failed transfer ends the whole job
// with MPI's own message.
#include "dist/mpi.h"

#define OMPI_SKIP_MPICXX 1  // MPI's C API only (Open MPI's C++ bindings are deprecated)
#include <mpi.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <vector>

namespace kz {

namespace {

constexpr size_t kPiece = size_t{1} << 30;  // elements per MPI call

// Requests of one non-blocking allreduce (one per piece of 2^30 elements).
class MpiPendingSum final : public PendingSum {
 public:
  explicit MpiPendingSum(std::vector<MPI_Request> requests) : requests_(std::move(requests)) {}
  ~MpiPendingSum() override { wait(); }
  bool test() override {
    if (done_) return true;
    int flag = 0;
    MPI_Testall(static_cast<int>(requests_.size()), requests_.data(), &flag, MPI_STATUSES_IGNORE);
    done_ = flag != 0;
    return done_;
  }
  void wait() override {
    if (done_) return;
    MPI_Waitall(static_cast<int>(requests_.size()), requests_.data(), MPI_STATUSES_IGNORE);
    done_ = true;
  }

 private:
  std::vector<MPI_Request> requests_;
  bool done_ = false;
};

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator() {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }

  std::string describe() const override {
    char version[MPI_MAX_LIBRARY_VERSION_STRING];
    int length = 0;
    MPI_Get_library_version(version, &length);
    std::string v(version, static_cast<size_t>(length));
    v = v.substr(0, v.find_first_of(",\n"));
    return fmt::format("MPI ({}), {} processes", v, size_);
  }

  void allreduce_sum(std::span<float> data) override {
    for (size_t at = 0; at < data.size(); at += kPiece) {
      const int n = static_cast<int>(std::min(kPiece, data.size() - at));
      MPI_Allreduce(MPI_IN_PLACE, data.data() + at, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    }
  }

  std::unique_ptr<PendingSum> start_allreduce_sum(std::span<float> data) override {
    std::vector<MPI_Request> requests;
    for (size_t at = 0; at < data.size(); at += kPiece) {
      const int n = static_cast<int>(std::min(kPiece, data.size() - at));
      requests.emplace_back();
      MPI_Iallreduce(MPI_IN_PLACE, data.data() + at, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD,
                     &requests.back());
    }
    return std::make_unique<MpiPendingSum>(std::move(requests));
  }

  void broadcast(std::span<float> data, int root) override {
    check_root(root, "broadcast");
    for (size_t at = 0; at < data.size(); at += kPiece) {
      const int n = static_cast<int>(std::min(kPiece, data.size() - at));
      MPI_Bcast(data.data() + at, n, MPI_FLOAT, root, MPI_COMM_WORLD);
    }
  }

  void broadcast(std::string& bytes, int root) override {
    check_root(root, "broadcast");
    uint64_t length = bytes.size();
    MPI_Bcast(&length, 1, MPI_UINT64_T, root, MPI_COMM_WORLD);
    bytes.resize(length);
    for (size_t at = 0; at < length; at += kPiece) {
      const int n = static_cast<int>(std::min<size_t>(kPiece, length - at));
      MPI_Bcast(bytes.data() + at, n, MPI_CHAR, root, MPI_COMM_WORLD);
    }
  }

  std::vector<std::string> gather(const std::string& bytes, int root) override {
    check_root(root, "gather");
    KZ_CHECK(bytes.size() < kPiece, "dist", "gather of {} bytes (at most 2^30 per rank)",
             bytes.size());
    const int length = static_cast<int>(bytes.size());
    std::vector<int> lengths(rank_ == root ? static_cast<size_t>(size_) : 0);
    MPI_Gather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, root, MPI_COMM_WORLD);
    std::vector<int> offsets(lengths.size());
    int64_t total = 0;
    for (size_t r = 0; r < lengths.size(); ++r) {
      offsets[r] = static_cast<int>(total);
      total += lengths[r];
    }
    KZ_CHECK(total < static_cast<int64_t>(kPiece) * 2, "dist",
             "gather of {} bytes in all (at most 2^31)", total);
    std::string all(static_cast<size_t>(total), '\0');
    MPI_Gatherv(bytes.data(), length, MPI_CHAR, all.data(), lengths.data(), offsets.data(),
                MPI_CHAR, root, MPI_COMM_WORLD);
    std::vector<std::string> out;
    for (size_t r = 0; r < lengths.size(); ++r)
      out.push_back(all.substr(static_cast<size_t>(offsets[r]), static_cast<size_t>(lengths[r])));
    return out;
  }

  void barrier() override { MPI_Barrier(MPI_COMM_WORLD); }

  void abort(int code) override {
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);  // MPI_Abort does not return; this keeps [[noreturn]] honest
  }

 private:
  void check_root(int root, const char* what) const {
    KZ_CHECK(root >= 0 && root < size_, "dist", "{} from rank {} in a group of {}", what, root,
             size_);
  }
  int rank_ = 0, size_ = 1;
};

bool launched_by_mpirun() {
  return std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr || std::getenv("PMIX_RANK") != nullptr;
}

}  // namespace

bool mpi_built() { return true; }

MpiSession::MpiSession(int& argc, char**& argv) {
  if (!launched_by_mpirun()) {
    world_ = std::make_unique<SingleCommunicator>();
    return;
  }
  int provided = 0;
  KZ_CHECK(MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) == MPI_SUCCESS, "dist",
           "MPI_Init_thread failed");
  started_ = true;
  KZ_CHECK(provided >= MPI_THREAD_FUNNELED, "dist",
           "MPI gives thread level {}, kizuki needs MPI_THREAD_FUNNELED", provided);
  world_ = std::make_unique<MpiCommunicator>();
}

MpiSession::~MpiSession() {
  if (!started_) return;
  world_.reset();
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

}  // namespace kz
