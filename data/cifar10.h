/// \file
/// cifar10.h — CIFAR-10 from the official binary batches (`cifar-10-batches-bin`).
///
/// Each record is 3073 bytes: one label byte (0–9), then the 32×32 red plane, the green
/// plane and the blue plane, each row-major — already an image's (C,H,W) = (3,32,32) layout.
/// Training images are data_batch_1.bin … data_batch_5.bin in that order (50000), test images
/// test_batch.bin (10000). Class names come from batches.meta.txt when present (its non-empty
/// lines, which must be exactly ten), else the official ten.
///
/// Faults are one kz::Error naming the file: a missing file, an empty file, a size that is not
/// a whole number of 3073-byte records, a label above 9.
#pragma once

#include <string>
#include <vector>

#include "data/dataset.h"

namespace kz {

/// One record: a label byte and 3·32·32 pixel bytes.
inline constexpr int64_t kCifarRecordBytes = 3073;

/// airplane, automobile, bird, cat, deer, dog, frog, horse, ship, truck.
const std::vector<std::string>& cifar10_classes();

/// One batch file's bytes as a (N,3,32,32) dataset; `name` is used in error messages.
ImageDataset parse_cifar_batch(const std::string& bytes, const std::string& name);

/// Both splits from `dir`: the folder holding the .bin files, or its parent when that holds
/// `cifar-10-batches-bin/` (the tarball's layout).
TrainTest load_cifar10(const std::string& dir);

}  // namespace kz
