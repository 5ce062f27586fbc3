// registry.cpp — the one table of kizuki's anomaly-detection methods. Adding a method is
// its file in anomaly/methods/ (which defines its make_ function), its line below (and the
// declaration of that function above the table), and its test.
#include <fmt/ranges.h>

#include "anomaly/method.h"

namespace kz {

std::unique_ptr<Method> make_doc(const MethodOptions&);
std::unique_ptr<Method> make_l2softmax(const MethodOptions&);
std::unique_ptr<Method> make_arcface(const MethodOptions&);
std::unique_ptr<Method> make_frozen(const MethodOptions&);
std::unique_ptr<Method> make_ae(const MethodOptions&);
std::unique_ptr<Method> make_vae(const MethodOptions&);
std::unique_ptr<Method> make_ssim_ae(const MethodOptions&);

const std::vector<MethodInfo>& method_table() {
  using K = MethodKind;
  static const std::vector<MethodInfo> table{
      {"doc", K::embedding, true, "Deep One-Class: descriptiveness + compactness (Perera & Patel 2018)", make_doc},
      {"l2softmax", K::embedding, true, "L2-Softmax classifier of reference + normal (Ranjan et al. 2017)", make_l2softmax},
      {"arcface", K::embedding, true, "ArcFace classifier of reference + normal (Deng et al. 2019)", make_arcface},
      {"frozen", K::embedding, false, "the backbone untrained (pretrained or random)", make_frozen},
      {"ae", K::scoring, false, "convolutional autoencoder, squared reconstruction error", make_ae},
      {"vae", K::scoring, false, "variational autoencoder: -ELBO, reconstruction probability (An & Cho 2015), unregularized (Matsubara et al. 2018)", make_vae},
      {"ssim-ae", K::scoring, false, "SSIM autoencoder (Bergmann et al. 2018)", make_ssim_ae},
  };
  return table;
}

std::vector<std::string> method_names() {
  std::vector<std::string> names;
  for (const MethodInfo& m : method_table()) names.push_back(m.name);
  return names;
}

const MethodInfo& method_info(const std::string& name) {
  for (const MethodInfo& m : method_table())
    if (m.name == name) return m;
  fail("method", fmt::format("unknown method '{}' ({})", name, fmt::join(method_names(), ", ")));
}

std::unique_ptr<Method> make_method(const MethodOptions& options) {
  return method_info(options.name).make(options);
}

}  // namespace kz
