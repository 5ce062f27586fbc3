// communicator.cpp — the one-process group and the agreement on failure (communicator.h).
#include "dist/communicator.h"

#include <cstdlib>

namespace kz {

namespace {
struct DoneSum final : PendingSum {  // the sum over one rank: nothing to wait for
  bool test() override { return true; }
  void wait() override {}
};
}  // namespace

std::unique_ptr<PendingSum> SingleCommunicator::start_allreduce_sum(std::span<float>) {
  return std::make_unique<DoneSum>();
}

void SingleCommunicator::broadcast(std::span<float>, int root) {
  KZ_CHECK(root == 0, "dist", "broadcast from rank {} in a group of 1", root);
}

void SingleCommunicator::broadcast(std::string&, int root) {
  KZ_CHECK(root == 0, "dist", "broadcast from rank {} in a group of 1", root);
}

std::vector<std::string> SingleCommunicator::gather(const std::string& bytes, int root) {
  KZ_CHECK(root == 0, "dist", "gather to rank {} in a group of 1", root);
  return {bytes};
}

void SingleCommunicator::abort(int code) { std::_Exit(code); }

void raise_if_any_failed(Communicator& comm, const std::string& my_error) {
  if (comm.size() == 1) return;
  const std::vector<std::string> all = comm.gather(my_error, 0);
  std::string message;
  for (size_t r = 0; r < all.size(); ++r)
    if (!all[r].empty()) message += (message.empty() ? "" : "; ") + all[r];
  comm.broadcast(message, 0);
  if (!message.empty()) throw GroupError(message);
}

}  // namespace kz
