"""Ancillary-service sessions on a feeder with devices' data (004_vdma.md): the devices' random
shouts (:mod:`.shouts`), the AC check of a session's matches and its network indices
(:mod:`.network`), used by ``peergrid run`` and ``peergrid reproduce vdma`` alike.
"""
