"""Who is calling, and what they may do: peer credentials and Pacemaker's ACL roles."""
