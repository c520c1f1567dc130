# Read by cmake when libheif-sys builds the bundled libheif (the
# `embedded-libheif` feature), through CMAKE_TOOLCHAIN_FILE in
# .cargo/config.toml. libheif-sys switches every codec on, and libheif then
# links each codec library it happens to find installed: the binary would
# differ from machine to machine (and libx265-dev without libnuma-dev breaks
# the link). PinGlass only decodes HEIC, which is HEVC: libde265 (Debian's
# libde265-dev) is the one codec kept, everywhere.
foreach(package X265 kvazaar UVG266 vvdec vvenc X264 OpenH264 DAV1D AOM SvtEnc RAV1E
        JPEG OpenJPEG FFMPEG OPENJPH libsharpyuv ZLIB Brotli)
  set(CMAKE_DISABLE_FIND_PACKAGE_${package} TRUE)
endforeach()
