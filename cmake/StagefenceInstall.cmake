# Install rules: public headers, the static libraries, the CLI, and an exported CMake package
# (find_package(stagefence) -> stagefence::stagefence and stagefence::model).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(_sf_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/stagefence)
# The model library's headers include internal ones by their path under src/ ("model/...",
# "kernels/..."), so that tree is installed under its own include root.
set(_sf_internal_include ${CMAKE_INSTALL_INCLUDEDIR}/stagefence_src)

set_target_properties(stagefence_model PROPERTIES EXPORT_NAME model)
target_include_directories(stagefence_model PUBLIC $<INSTALL_INTERFACE:${_sf_internal_include}>)

install(TARGETS stagefence stagefence_model EXPORT stagefenceTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
if(TARGET stagefence_cli)
  install(TARGETS stagefence_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/stagefence DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/src/ DESTINATION ${_sf_internal_include}
  FILES_MATCHING PATTERN "*.hpp" PATTERN "*.h" PATTERN "*.cuh")

install(EXPORT stagefenceTargets NAMESPACE stagefence:: DESTINATION ${_sf_cmake_dir})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/stagefenceConfig.cmake.in
  ${PROJECT_BINARY_DIR}/stagefenceConfig.cmake INSTALL_DESTINATION ${_sf_cmake_dir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/stagefenceConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/stagefenceConfig.cmake
  ${PROJECT_BINARY_DIR}/stagefenceConfigVersion.cmake DESTINATION ${_sf_cmake_dir})
