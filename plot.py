"""Figures and tables from a results folder: `python plot.py results/` writes results/figures/<dataset>/.

A command: `python plot.py --help` lists its flags. The work is in noisylabels/plot.py.
"""
from noisylabels.plot import main

if __name__ == "__main__":
    main()
