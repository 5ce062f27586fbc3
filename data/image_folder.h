/// \file
/// image_folder.h — images from files: PNG, JPEG, BMP (and GIF, binary PNM) through stb_image.
///
/// An image is (C,H,W) bytes: C = 1 (grey) or 3 (RGB). Conversion between them is stb's:
/// grey→RGB copies the plane; RGB→grey is (77·R + 150·G + 29·B) >> 8. Alpha is dropped (not
/// blended). Images of any size are read; a folder's images are resized to one size when
/// asked (bilinear as data/transforms.h, rounded to the nearest byte), and must otherwise
/// all have the same size.
///
/// A class folder holds one subfolder per class (names sorted = labels 0, 1, …, as
/// torchvision's ImageFolder); the image files in each are those with an image extension
/// (.png .jpg .jpeg .bmp .gif .ppm .pgm .pnm, any case), sorted by name; hidden files and
/// other files are ignored. The format is taken from the file's signature, not its name; a
/// GIF gives its first frame.
///
/// Faults are kz::Errors naming the path: a missing path, a folder with no class subfolders,
/// an empty class folder, and unreadable files. All unreadable files (zero bytes, not
/// decodable, too large) are collected into one error that lists each with its reason —
/// or, with skip_unreadable, left out and listed in ImageFiles::skipped (the caller warns).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace kz {

/// One decoded image: (C,H,W) bytes.
struct Image {
  /// C (1 or 3), H, W
  ///@{
  int64_t channels = 0, height = 0, width = 0;
  ///@}
  std::vector<uint8_t> pixels;  ///< (C,H,W)
};

/// Decodes an image file's bytes. channels: 1 or 3 converts; 0 keeps what the file holds
/// (grey and grey+alpha → 1, colour and colour+alpha → 3). Images over max_pixels (H·W) are
/// refused before decoding. `name` is used in error messages.
Image decode_image(const std::string& bytes, const std::string& name, int channels = 3,
                   int64_t max_pixels = int64_t{1} << 28);
/// decode_image of a file's bytes; errors name the path.
Image load_image(const std::string& path, int channels = 3);

/// How load_image_files and load_image_folder read images.
struct ImageFolderOptions {
  int channels = 3;               ///< 1 or 3: every image converted to this
  /// Resize every image to H×W; 0 = keep (sizes must agree)
  ///@{
  int64_t height = 0, width = 0;
  ///@}
  bool skip_unreadable = false;   ///< leave unreadable files out (listed in ImageFiles::skipped)
  /// How the error for unreadable files tells the caller to skip them: a program sets its
  /// flag here ("pass --skip-unreadable to leave them out").
  std::string skip_hint = "set ImageFolderOptions::skip_unreadable to leave them out";
};

/// A data set read from files, with the file behind each image.
struct ImageFiles {
  ImageDataset dataset;              ///< the images read
  std::vector<std::string> files;    ///< files[i] is image i
  std::vector<std::string> skipped;  ///< "file: reason" for each unreadable file left out
};

/// The image files directly inside `dir` (not recursive), sorted. Throws when dir is missing.
std::vector<std::string> list_image_files(const std::string& dir);

/// Reads `paths` with labels[i] for paths[i] (each in [0, class_names.size())).
ImageFiles load_image_files(const std::vector<std::string>& paths,
                            const std::vector<int64_t>& labels,
                            const std::vector<std::string>& class_names,
                            const ImageFolderOptions& options = {}, const std::string& source = "");

/// Reads a folder of class subfolders.
ImageFiles load_image_folder(const std::string& dir, const ImageFolderOptions& options = {});

}  // namespace kz
