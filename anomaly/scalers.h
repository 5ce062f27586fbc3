/// \file
/// scalers.h — feature scalers fitted on the normal training features, as scikit-learn 1.2's
/// MinMaxScaler and StandardScaler (fit statistics in double).
///
/// Shape letters: N = samples, D = features. x is (N,D) everywhere; transform returns a new
/// (N,D) tensor. Errors start with "[minmax_scaler]" / "[standard_scaler]".
///
/// \code{.unparsed}
///   MinMaxScaler(low, high):  y = (x - data_min) * scale + low,
///       scale = (high - low) / (data_max - data_min); a range below 10 * float32 epsilon
///       (a constant feature, scikit-learn's rule for float32 input) counts as 1.
///       Test data outside the fitted range maps outside [low, high] (no clipping).
///   StandardScaler:  y = (x - mean) / scale, scale = sqrt(var), var the population variance
///       (ddof 0); a constant feature (scikit-learn's test: var <= N eps var + (N mean eps)^2,
///       eps = double epsilon) gets scale 1.
///   CenteringScaler ("center"):  y = x - mean, StandardScaler(with_std=False); the mean is
///       rounded to float32 (as scikit-learn for float32 input, and as a model file saves
///       it). Before the cosine scorer it measures angles about the normal features' mean
///       instead of the origin (pooled ReLU6 features all lie in the positive orthant).
///       Euclidean distances (LOF, k-NN) do not change under a shift, so it is only used
///       before cosine.
/// \endcode
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace kz {

/// A feature scaler: fitted on (N,D) features, then maps any (M,D) features.
class Scaler {
 public:
  virtual ~Scaler() = default;  ///< scalers are held by unique_ptr
  virtual void fit(const Tensor& x) = 0;               ///< x is (N,D), N >= 1
  virtual Tensor transform(const Tensor& x) const = 0;  ///< (N,D) -> (N,D)
  /// fit(x), then transform(x).
  Tensor fit_transform(const Tensor& x) {
    fit(x);
    return transform(x);
  }
  virtual std::string name() const = 0;  ///< "none", "minmax", "standard", "center"
  virtual bool fitted() const = 0;  ///< whether fit() (or load_state_dict()) ran
  /// What fit() learned, as named tensors (model files embed it); load_state_dict restores
  /// it, checking every key and shape.
  ///@{
  virtual std::map<std::string, Tensor> state_dict() const = 0;
  virtual void load_state_dict(const std::map<std::string, Tensor>& state) = 0;
  ///@}
};

/// "none" (identity), "minmax" ([0, 1]), "standard" or "center"; anything else is a
/// kz::Error.
std::unique_ptr<Scaler> make_scaler(const std::string& name);

/// The scaler the benchmark protocol (and a model.kz) puts before `scorer`: "minmax" for
/// lof and knn (the seed's choice: they measure Euclidean distances, which a shift leaves
/// unchanged, so `center` does not apply), "none" for cosine, or "center" with `center`;
/// "none" for gde (a Gaussian fitted to the features as they are, as CutPaste does).
std::string scaler_for(const std::string& scorer, bool center);

/// "none": features as they are.
class IdentityScaler final : public Scaler {
 public:
  void fit(const Tensor& x) override;
  Tensor transform(const Tensor& x) const override;  ///< a copy of x
  std::string name() const override { return "none"; }
  bool fitted() const override { return true; }
  std::map<std::string, Tensor> state_dict() const override { return {}; }
  void load_state_dict(const std::map<std::string, Tensor>&) override {}
};

/// scikit-learn's MinMaxScaler(feature_range=(low, high)) (see the file's description).
class MinMaxScaler final : public Scaler {
 public:
  explicit MinMaxScaler(double low = 0.0, double high = 1.0);  ///< needs low < high

  void fit(const Tensor& x) override;
  Tensor transform(const Tensor& x) const override;
  std::string name() const override { return "minmax"; }
  bool fitted() const override { return !data_min_.empty(); }
  /// {"data_min": (D,), "data_max": (D,), "feature_range": (2,)}
  ///@{
  std::map<std::string, Tensor> state_dict() const override;
  void load_state_dict(const std::map<std::string, Tensor>& state) override;
  ///@}

  const std::vector<double>& data_min() const { return data_min_; }  ///< (D,)
  const std::vector<double>& data_max() const { return data_max_; }  ///< (D,)
  const std::vector<double>& scale() const { return scale_; }        ///< (D,)

 private:
  void set_scale();
  double low_, high_;
  std::vector<double> data_min_, data_max_, scale_;
};

/// scikit-learn's StandardScaler (see the file's description).
class StandardScaler final : public Scaler {
 public:
  void fit(const Tensor& x) override;
  Tensor transform(const Tensor& x) const override;
  std::string name() const override { return "standard"; }
  bool fitted() const override { return !mean_.empty(); }
  /// {"mean": (D,), "var": (D,), "scale": (D,)}
  ///@{
  std::map<std::string, Tensor> state_dict() const override;
  void load_state_dict(const std::map<std::string, Tensor>& state) override;
  ///@}

  const std::vector<double>& mean() const { return mean_; }    ///< (D,)
  const std::vector<double>& var() const { return var_; }      ///< (D,) population variance
  const std::vector<double>& scale() const { return scale_; }  ///< (D,)

 private:
  std::vector<double> mean_, var_, scale_;
};

/// Centring, scikit-learn's StandardScaler(with_std=False) (see the file's description).
class CenteringScaler final : public Scaler {
 public:
  void fit(const Tensor& x) override;
  Tensor transform(const Tensor& x) const override;
  std::string name() const override { return "center"; }
  bool fitted() const override { return !mean_.empty(); }
  /// {"mean": (D,)}
  std::map<std::string, Tensor> state_dict() const override;
  void load_state_dict(const std::map<std::string, Tensor>& state) override;

  const std::vector<double>& mean() const { return mean_; }  ///< (D,), rounded to float32

 private:
  std::vector<double> mean_;
};

}  // namespace kz
