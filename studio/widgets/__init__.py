"""Small widgets and helpers shared by the studio's views."""
