# A site script that no package ships.
export OUTSIDE=1
