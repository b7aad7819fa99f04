# Runs every GoogleTest binary named *Tests under build/test/Unit; each test
# case counts as one lit test.
import os

import lit.formats

config.name = "moe-unit"
config.suffixes = []
config.test_source_root = os.path.join(config.moe_obj_root, "test", "Unit")
config.test_exec_root = config.test_source_root
config.test_format = lit.formats.GoogleTest(".", "Tests")
