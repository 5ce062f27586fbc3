// dist_check.cpp — a program that tests/test_dist.cpp runs under `mpirun -np N`: every rank
// calls dist/'s collective operations on inputs whose results are known in closed form and
// reports each mismatch; it exits 0 when every rank saw every result right.
//   allreduce_sum: x_r[i] = (r + 1)·(i mod 1021) + (i mod 7) summed over ranks r = 0 … S−1 is
//     (i mod 1021)·S(S+1)/2 + S·(i mod 7) — whole numbers below 2^24, so exact in float
//     whatever order the sum takes; lengths 0 to 10^7, odd ones among them.
//   broadcast: floats and a string from the last rank; gather: rank r sends r copies of
//     the letter 'a' + r (rank 0 an empty string), rank 0 gets them in rank order.
#include <cstdio>
#include <string>
#include <vector>

#include "dist/mpi.h"

int main(int argc, char** argv) {
  kz::MpiSession session(argc, argv);
  kz::Communicator& comm = session.world();
  const int rank = comm.rank(), size = comm.size();
  int failures = 0;
  auto report = [&](bool ok, const std::string& what) {
    if (!ok) ++failures;
    if (!ok || rank == 0) std::printf("rank %d: %s: %s\n", rank, what.c_str(), ok ? "ok" : "WRONG");
  };
  for (const size_t n : {0, 1, 2, 3, 7, 1000, 4097, 65537, 1000001, 10000000}) {
    std::vector<float> x(n);
    for (size_t i = 0; i < n; ++i)
      x[i] = static_cast<float>((rank + 1) * static_cast<int>(i % 1021) + static_cast<int>(i % 7));
    comm.allreduce_sum(x);
    size_t wrong = 0;
    for (size_t i = 0; i < n; ++i) {
      const auto expected = static_cast<float>(static_cast<int>(i % 1021) * size * (size + 1) / 2 +
                                               size * static_cast<int>(i % 7));
      wrong += x[i] != expected;
    }
    report(wrong == 0, "allreduce_sum n=" + std::to_string(n) + " (" + std::to_string(wrong) +
                           " wrong)");
  }
  std::vector<float> b(1001, static_cast<float>(rank));
  comm.broadcast(b, size - 1);
  bool same = true;
  for (const float v : b) same = same && v == static_cast<float>(size - 1);
  report(same, "broadcast floats from the last rank");
  std::string text = rank == size - 1 ? std::string(100003, 'z') : "short";
  comm.broadcast(text, size - 1);
  report(text == std::string(100003, 'z'), "broadcast string from the last rank");
  const std::vector<std::string> all =
      comm.gather(std::string(static_cast<size_t>(rank), static_cast<char>('a' + rank)), 0);
  bool gathered = rank == 0 ? all.size() == static_cast<size_t>(size) : all.empty();
  for (size_t r = 0; gathered && r < all.size(); ++r)
    gathered = all[r] == std::string(r, static_cast<char>('a' + r));
  report(gathered, "gather to rank 0");
  comm.barrier();
  if (rank == 0) std::printf("size %d\n", size);
  std::printf("rank %d: %d failure(s)\n", rank, failures);
  return failures == 0 ? 0 : 1;
}
