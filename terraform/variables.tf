variable "region" {
  description = "AWS region of the cluster."
  type        = string
  default     = "us-east-1"
}

variable "cluster_name" {
  description = "Name of the EKS cluster."
  type        = string
  default     = "cverag"
}

variable "kubernetes_version" {
  description = "EKS Kubernetes version (tested locally against the same minor)."
  type        = string
  default     = "1.36"
}

variable "azs" {
  description = "Three availability zones: cverag spreads every Deployment over them."
  type        = list(string)
  default     = ["us-east-1a", "us-east-1b", "us-east-1c"]
}

variable "gpu_instance_types" {
  description = "Instance types of the GPU node group serving Llama 3 8B (one A10G is enough)."
  type        = list(string)
  default     = ["g5.xlarge"]
}

variable "gpu_max_size" {
  description = "Most GPU nodes; RagEndpoint llm.maxReplicas should not exceed it."
  type        = number
  default     = 4
}
