# Sourced by the GPU-machine scripts: that machine cannot reach Debian's archive, so Highway
# (libhwy-dev, libhwy1) travels as .deb files in the git-ignored .deps/ (fetch them here with
# `mkdir -p .deps && cd .deps && apt-get download libhwy-dev libhwy1`), unpacked under /opt/sfdeps
# with pkg-config and the loader pointed at them. Does nothing where pkg-config finds libhwy.
if ! pkg-config --exists libhwy 2>/dev/null && compgen -G ".deps/*.deb" >/dev/null; then
  for deb in .deps/*.deb; do dpkg -x "$deb" /opt/sfdeps; done
  sed -i 's|^prefix=.*|prefix=/opt/sfdeps/usr|' /opt/sfdeps/usr/lib/x86_64-linux-gnu/pkgconfig/*.pc
  export PKG_CONFIG_PATH=/opt/sfdeps/usr/lib/x86_64-linux-gnu/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
  export LD_LIBRARY_PATH=/opt/sfdeps/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi
