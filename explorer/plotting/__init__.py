"""Drawing pieces the panels share: steady axes, bounded curve buffers, point clouds, image grids."""
