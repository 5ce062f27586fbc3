// registry.cpp — the one table of kizuki's anomaly-detection methods. Adding a method is
// its file in anomaly/methods/ (which defines its make_ function), its line below (and the
// declaration of that function above the table), and its test. Methods defined outside
// kizuki's tree join the table at run time through register_method().
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
std::unique_ptr<Method> make_adacos(const MethodOptions&);
std::unique_ptr<Method> make_adacos_fixed(const MethodOptions&);
std::unique_ptr<Method> make_geom(const MethodOptions&);
std::unique_ptr<Method> make_goad(const MethodOptions&);
std::unique_ptr<Method> make_deepsad(const MethodOptions&);
std::unique_ptr<Method> make_iforest(const MethodOptions&);
std::unique_ptr<Method> make_identity(const MethodOptions&);
std::unique_ptr<Method> make_panda(const MethodOptions&);
std::unique_ptr<Method> make_msc(const MethodOptions&);
std::unique_ptr<Method> make_twin(const MethodOptions&);
std::unique_ptr<Method> make_cutpaste(const MethodOptions&);
std::unique_ptr<Method> make_adae(const MethodOptions&);
std::unique_ptr<Method> make_anogan(const MethodOptions&);

namespace {

// The table itself: the built-in methods, then those of register_method() in their order.
std::vector<MethodInfo>& table() {
  using K = MethodKind;
  static std::vector<MethodInfo> table{
      {"doc", K::embedding, true, "Deep One-Class: descriptiveness + compactness (Perera & Patel 2018)", make_doc},
      {"l2softmax", K::embedding, true, "L2-Softmax classifier of reference + normal (Ranjan et al. 2017)", make_l2softmax},
      {"arcface", K::embedding, true, "ArcFace classifier of reference + normal (Deng et al. 2019)", make_arcface},
      {"frozen", K::embedding, false, "the backbone untrained (pretrained or random)", make_frozen},
      {"ae", K::scoring, false, "autoencoder, squared reconstruction error (convolutional; an MLP on tables)", make_ae},
      {"vae", K::scoring, false, "variational autoencoder: -ELBO, reconstruction probability (An & Cho 2015), unregularized (Matsubara et al. 2018)", make_vae},
      {"ssim-ae", K::scoring, false, "SSIM autoencoder (Bergmann et al. 2018)", make_ssim_ae},
      {"adacos", K::embedding, true, "AdaCos classifier of reference + normal, dynamic scale (Zhang et al. 2019)", make_adacos},
      {"adacos-fixed", K::embedding, true, "AdaCos with its fixed scale sqrt(2) ln(C-1) (Zhang et al. 2019)", make_adacos_fixed},
      {"geom", K::scoring, false, "GEOM: which of 72 geometric transformations was applied (Golan & El-Yaniv 2018)", make_geom},
      {"goad", K::scoring, false, "GOAD: GEOM plus a triplet-centre loss, scored by distances to the transformations' centres; on tables random affine maps (Bergman & Hoshen 2020)", make_goad},
      {"deepsad", K::scoring, false, "Deep SAD: normal images or rows pulled to a centre, known anomalies pushed away (Ruff et al. 2020)", make_deepsad},
      {"iforest", K::scoring, false, "Isolation Forest on the raw rows (Liu et al. 2008)", make_iforest},
      {"identity", K::embedding, false, "the raw rows as features, no network (LOF, k-NN, cosine on the data itself)", make_identity},
      {"lof", K::embedding, false, "Local Outlier Factor on the raw rows (Breunig et al. 2000): identity with the lof scorer", make_identity},
      {"knn", K::embedding, false, "k-NN distance on the raw rows: identity with the knn scorer", make_identity},
      {"panda", K::embedding, false, "PANDA: compactness about the pretrained mean, pulled toward the pretrained weights (Reiss et al. 2021)", make_panda},
      {"msc", K::embedding, false, "Mean-Shifted Contrastive loss on the pretrained features (Reiss & Hoshen 2023)", make_msc},
      {"twin", K::embedding, false, "Anomaly Twin: ArcFace learns normal against a twin with a line defect (--with-reference adds the reference classes)", make_twin},
      {"cutpaste", K::embedding, false, "CutPaste: 3-way normal / cutpaste / scar classifier, Gaussian density, patch maps (Li et al. 2021)", make_cutpaste},
      {"adae", K::scoring, false, "Adversarial Dual Autoencoders: G and D autoencoders, score ||G(x) - D(G(x))||^2 (Vu et al. 2019)", make_adae},
      {"anogan", K::scoring, false, "AnoGAN: a DCGAN, each test image's code searched by gradient steps (Schlegl et al. 2017)", make_anogan},
  };
  return table;
}

}  // namespace

const std::vector<MethodInfo>& method_table() { return table(); }

void register_method(MethodInfo info) {
  KZ_CHECK(!info.name.empty(), "method", "register_method: the method has no name");
  KZ_CHECK(info.name.find_first_not_of("abcdefghijklmnopqrstuvwxyz"
                                       "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") ==
               std::string::npos,
           "method", "register_method: the name '{}' has characters other than letters, "
           "digits, '-' and '_'", info.name);
  for (const MethodInfo& m : table())
    KZ_CHECK(m.name != info.name, "method",
             "register_method: a method named '{}' is already registered ({})", info.name,
             m.summary);
  KZ_CHECK(info.make != nullptr, "method", "register_method: '{}' has no make function",
           info.name);
  table().push_back(std::move(info));
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
